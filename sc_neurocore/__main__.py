"""``python -m sc_neurocore`` runs the command-line interface."""

import sys

from sc_neurocore_cli import main

sys.exit(main())
