"""Declared dependencies equal imported ones, floors are pinned, and ``import pathdep`` is light."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "pathdep"

#: import name -> distribution name, where they differ.
DIST_OF = {"sklearn": "scikit-learn", "huggingface_hub": "huggingface-hub",
           "transformer_lens": "transformer-lens"}


def _name(req: str) -> str:
    return re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].strip().lower()


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def imported_distributions() -> set[str]:
    """Third-party top-level modules imported anywhere in src/ (also inside functions)."""
    mods: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                mods |= {a.name.partition(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods.add(node.module.partition(".")[0])
    third = {m for m in mods if m not in sys.stdlib_module_names and m != "pathdep"}
    return {DIST_OF.get(m, m).lower() for m in third}


def test_declared_dependencies_equal_imported_ones():
    project = _project()
    core = {_name(r) for r in project["dependencies"]}
    extras = {_name(r) for k, reqs in project["optional-dependencies"].items() if k != "dev"
              for r in reqs}
    imported = imported_distributions()
    assert imported - core - extras == set(), "imported but not declared"
    assert core - imported == set(), "declared but never imported"


def test_every_floor_is_pinned_in_the_minimum_versions_constraints():
    floors = {}
    for req in _project()["dependencies"]:
        m = re.search(r">=\s*([\w.]+)", req)
        if m and _name(req) != "torch":  # torch: the CPU wheel of scripts/setup.sh
            floors[_name(req)] = m.group(1)
    pins = {}
    for line in (ROOT / "constraints" / "min.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    assert set(pins) == set(floors)
    def padded(v: str) -> tuple[int, ...]:
        nums = [int(x) for x in re.findall(r"\d+", v)]
        return tuple(nums + [0] * (3 - len(nums)))

    assert {n: padded(v) for n, v in pins.items()} == {n: padded(v) for n, v in floors.items()}


def test_import_pathdep_stays_light():
    code = ("import sys, pathdep; heavy = [m for m in ('torch', 'transformers', 'xarray', 'zarr', "
            "'pandas', 'scipy', 'sklearn', 'plotly', 'datasets') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "", f"import pathdep imported {out.stdout.strip()}"
