"""The package layers of docs/architecture.md hold: no import goes against them.

import-linter's layers contract lives in pyproject.toml ([tool.importlinter]);
its graph (grimp) counts imports inside functions and under TYPE_CHECKING
too, so a deferred import cannot hide a dependency.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="needs import-linter (pip install pathdep[dev])")

ROOT = Path(__file__).resolve().parents[1]


def test_imports_follow_the_layers_of_docs_architecture():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]))
    code = ("import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 kept, 0 broken" in res.stdout, res.stdout


def test_import_pathdep_stays_light():
    """``import pathdep`` loads no torch, transformers, xarray or zarr (the reason for lazy imports)."""
    heavy = ("torch", "transformers", "xarray", "zarr")
    code = ("import sys, pathdep; "
            f"print(' '.join(m for m in {heavy!r} if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "", f"import pathdep imported {res.stdout.strip()}"
