"""``python -m sc_neurocore_cli``: the ``sc-neurocore`` command without its script."""

import sys

from .parser import main

sys.exit(main())
