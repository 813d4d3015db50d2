#!/usr/bin/env bash
# Run the whole test suite against other torch releases: do this before a release.
#
# CI tests the pinned torch of constraints.txt only.  pyproject.toml promises more
# (`torch>=LOWER`), so before tagging a release a developer runs this script for the
# lower bound and for the newest torch the package index serves:
#
#     scripts/check_torch_releases.sh 2.5.1 2.14.1      # or any list of versions
#
# Each version gets its own virtual environment under $SC_TORCH_VENVS (default
# /tmp/sc-neurocore-torch/<version>, reused on the next run).  PyPI's torch wheels are
# the CUDA builds and pull the NVIDIA libraries: budget a few GB and some minutes per
# version.  torch chooses its own triton (tests that need a newer one skip and say why);
# every other dependency is pinned from constraints.txt, and the interop peers are
# installed bare, as .ci/run does.  The last lines are one pytest summary per version;
# the exit status is non-zero if any run failed.
# Record the results in docs/trust.md ("Tested torch releases") and, if the lower bound
# moved, in pyproject.toml.
set -uo pipefail
cd "$(dirname "$0")/.."
VENVS="${SC_TORCH_VENVS:-/tmp/sc-neurocore-torch}"
PYTHON="${PYTHON:-python3}"
if [ "$#" -eq 0 ]; then
    echo "usage: $0 TORCH_VERSION [...]   (e.g. $0 2.5.1 2.14.1)" >&2
    exit 2
fi
constraints="$(mktemp)"
grep -v -E '^(torch|triton)==' constraints.txt >"$constraints"
# The package's own requirements and the dev and examples extras', without torch (installed
# first, at the version under test) and triton (torch brings its own).
requirements="$("$PYTHON" - <<'EOF'
import re
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = project["optional-dependencies"]
wanted = [*project["dependencies"], *(r for e in ("dev", "examples") for r in extras[e])]
names = (r.split(";")[0].replace(" ", "") for r in wanted)
print(" ".join(r for r in names if re.split(r"[<>=!~\[]", r)[0] not in ("torch", "triton")))
EOF
)"
# The interop peers, bare (their own requirements would pull another torch), and the
# tensorboard that Norse imports: the same as .ci/run.
PEERS="snntorch spikingjelly loguru norse nirtorch"
summary=()
status=0
for version in "$@"; do
    venv="$VENVS/$version"
    echo "=== torch $version in $venv"
    [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
    # shellcheck disable=SC2086
    if ! "$venv/bin/pip" install -q "torch==$version" \
        || ! "$venv/bin/pip" install -q -c "$constraints" $requirements \
        || ! "$venv/bin/pip" install -q -c "$constraints" --no-deps $PEERS \
        || ! "$venv/bin/pip" install -q -c "$constraints" tensorboard \
        || ! "$venv/bin/pip" install -q --no-deps -e .; then
        summary+=("torch $version: install failed")
        status=1
        continue
    fi
    log="$venv/pytest.log"
    "$venv/bin/python" -m pytest -q -p no:cacheprovider >"$log" 2>&1
    code=$?
    [ "$code" -eq 0 ] || status=1
    summary+=("torch $version: $(tail -n 1 "$log") (exit $code, log $log)")
done
rm -f "$constraints"
printf '%s\n' "${summary[@]}"
exit "$status"
