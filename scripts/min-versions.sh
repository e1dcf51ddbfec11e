#!/usr/bin/env bash
# The minimum-versions job: pathdep installed with every dependency at its floor
# (constraints/min.txt) in a clean virtual environment, then a fast subset of the tests.
#
#   bash scripts/min-versions.sh            # venv in .venv-min (reused when it exists)
#   PATHDEP_MIN_VENV=/tmp/v bash scripts/min-versions.sh
#
# The venv does not see the system's packages. torch is the CPU wheel 2.13.0: a local
# wheel where /opt/wheels has one, else PATHDEP_TORCH_INDEX (a CPU wheel index), else PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${PATHDEP_MIN_VENV:-.venv-min}

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
"$VPY" -m pip install --quiet --upgrade pip
if ! "$VPY" -c "import torch" 2>/dev/null; then
  wheel=$(ls /opt/wheels/torch-2.13.0+cpu-*.whl 2>/dev/null | head -1 || true)
  if [ -n "$wheel" ]; then
    "$VPY" -m pip install --quiet "$wheel"
  else
    "$VPY" -m pip install --quiet torch==2.13.0 ${PATHDEP_TORCH_INDEX:+--index-url "$PATHDEP_TORCH_INDEX"}
  fi
fi
"$VPY" -m pip install --quiet -e . -c constraints/min.txt pytest
"$VPY" -m pip check
echo "min-versions: installed"
"$VPY" - <<'PYEOF'
from importlib.metadata import version
pins = [ln.split("#")[0].strip() for ln in open("constraints/min.txt")]
bad = [(n, v, version(n)) for n, _, v in (p.partition("==") for p in pins if p) if version(n) != v]
assert not bad, f"installed versions differ from constraints/min.txt: {bad}"
print("min-versions: every floor installed as pinned")
PYEOF

# The fast subset: the spec and its pinned digests, declared = imported dependencies,
# the command line, the store, checkpoint loading, and one tiny suite end to end.
"$VPY" -m pytest -q -p no:cacheprovider -p no:warnings \
  tests/test_spec.py tests/test_spec_digest.py tests/test_dependencies.py tests/test_cli.py \
  tests/store tests/suites/test_load_errors.py tests/train/test_model_config.py tests/test_interop.py \
  tests/test_end_to_end.py
