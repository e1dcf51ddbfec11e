"""What a saved analysis result depends on, as one hash: reuse it only while that is unchanged.

    fp = fingerprint(entry, ctx, options)

The hash covers the pathdep version, the source of the analysis's module and
of every pathdep module it imports (transitively, found by reading the
imports, also those inside functions), the store's identity and measured
cells, the suite's checkpoints (location, size and modification time of each
weights file) for analyses that load them, and the options. A change in a
shared helper such as ``analysis/bootstrap.py`` therefore recomputes every
analysis that uses it.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
from importlib import metadata
from pathlib import Path

import numpy as np

PACKAGE = "pathdep"


@functools.cache
def _source(module: str) -> tuple[Path | None, bool]:
    """(file, is_package) of a pathdep module, or (None, False) when it is not one."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None, False
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None, False
    return Path(spec.origin), spec.submodule_search_locations is not None


def _imports(module: str, file: Path, is_package: bool) -> set[str]:
    """The pathdep modules ``module`` imports anywhere in its file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base.split(".")[0] != PACKAGE:
                continue
            for a in node.names:  # `from pathdep.analysis import bootstrap` names a module
                sub = f"{base}.{a.name}"
                found.add(sub if _source(sub)[0] is not None else base)
    return found


@functools.cache
def closure(module: str) -> tuple[str, ...]:
    """``module`` and every pathdep module it imports, transitively, sorted."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        file, is_package = _source(m)
        if file is None:
            continue
        seen.add(m)
        todo += sorted(_imports(m, file, is_package) - seen)
    return tuple(sorted(seen))


@functools.cache
def code_digest(module: str) -> str:
    """sha256 over the pathdep version and the source of :func:`closure` of ``module``."""
    h = hashlib.sha256(version().encode())
    for m in closure(module):
        h.update(m.encode())
        h.update(_source(m)[0].read_bytes())
    return h.hexdigest()


def version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def store_identity(ds) -> dict:
    """The store's identity and which cells are measured (None without a store)."""
    if ds is None:
        return {}
    done = np.ascontiguousarray(ds["done"].values) if "done" in ds.variables else np.zeros(0)
    return {**{k: str(ds.attrs.get(k, "")) for k in ("suite", "layout_digest", "eval_hash")},
            "done": hashlib.sha256(done.tobytes()).hexdigest(),
            "runs": [str(r) for r in ds["run"].values] if "run" in ds.coords else [],
            "steps": [int(s) for s in ds["step"].values] if "step" in ds.coords else []}


def _stamp(path: str | None) -> list:
    if not path:
        return []
    f = Path(path) / "model.safetensors"
    st = f.stat() if f.is_file() else None
    return [st.st_size, st.st_mtime_ns] if st else []


def suite_identity(suite) -> dict:
    """Every checkpoint of the suite: where it is and its weights file's size and time."""
    if suite is None:
        return {}
    return {"name": suite.name,
            "runs": [[r.id, [[c.step, c.location, _stamp(c.path)] for c in r.checkpoints]]
                     for r in suite.runs]}


def fingerprint(module: str, name: str, options: dict, *, ds=None, suite=None) -> str:
    """The hash of everything a result of analysis ``name`` (code in ``module``) depends on."""
    desc = {"name": name, "code": code_digest(module), "options": options,
            "store": store_identity(ds), "suite": suite_identity(suite)}
    return hashlib.sha256(json.dumps(desc, sort_keys=True, default=str).encode()).hexdigest()
