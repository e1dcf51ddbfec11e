#!/usr/bin/env bash
# Install pathdep with everything its tests need, on a fresh machine.
#
#   bash scripts/setup.sh
#
# PyTorch comes first: on a machine without an NVIDIA GPU we install the CPU
# build (torch==2.13.0; set PATHDEP_TORCH_INDEX to a CPU wheel index where the
# default index would serve a CUDA build), so the later `pip install -e .` finds
# torch satisfied instead of pulling several GB of CUDA wheels. With a GPU,
# torch installs the normal way. Chromium (for the report's browser test) is
# installed from Debian where we are root and apt-get exists; skip it with
# PATHDEP_NO_BROWSER=1.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if ! "$PY" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    "$PY" -m pip install --quiet "torch>=2.2,<3"
  else
    "$PY" -m pip install --quiet torch==2.13.0 ${PATHDEP_TORCH_INDEX:+--index-url "$PATHDEP_TORCH_INDEX"}
  fi
fi
"$PY" -m pip install --quiet -e ".[dev]"

if [ -z "${PATHDEP_NO_BROWSER:-}" ] && ! command -v chromium >/dev/null 2>&1 \
   && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "setup: could not install chromium; the report's browser test will be skipped" >&2
fi
command -v pathdep >/dev/null 2>&1 || { command -v pyenv >/dev/null 2>&1 && pyenv rehash; } || true
echo "setup: pathdep $("$PY" -c 'import pathdep; print(pathdep.__version__)') installed"
