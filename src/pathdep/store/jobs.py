"""Per-job access to the store: locks, done flags, the fixed inputs, atomic-enough writes.

A job writes all its variables through zarr's public synchronous API (each
chunk file is written to a temporary name and renamed by zarr's local
store) and sets ``done[run, step]`` last, so a kill loses at most the job in
flight: its ``done`` stays False and a rerun recomputes it. A per-job ``fcntl`` lock
(``.<STORE name>.locks/<run>@<step>.lock`` beside the store, outside the Zarr
hierarchy) keeps two processes from computing the same job.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np

from pathdep.atomic import write_json
from pathdep.store.formats import as_str, known_zarr_warnings_ignored
from pathdep.store.probe_arrays import ProbeArrays
from pathdep.store.schema import Dims, job_vars, padded


def beside(store: Path, suffix: str) -> Path:
    """``.<store name><suffix>`` in the store's folder: pathdep's own files, which a Zarr
    reader would warn about inside the store."""
    store = Path(store)
    return store.parent / f".{store.name}{suffix}"


def lock_path(store: Path, run: str, step: int) -> Path:
    return beside(store, ".locks") / f"{quote(run, safe='')}@{step}.lock"


@contextlib.contextmanager
def job_lock(store: Path, run: str, step: int, *, wait: bool) -> Iterator[bool]:
    """Hold the job's lock; yields False (without waiting) if another process holds it."""
    path = lock_path(store, run, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _group(store: Path, mode: str = "r"):
    import zarr  # deferred: `pathdep --help` need not import zarr

    with known_zarr_warnings_ignored():
        return zarr.open_group(Path(store), mode=mode)


def done_flags(store: Path) -> np.ndarray:
    """``done[run, step]`` as a bool array."""
    return np.asarray(_group(store)["done"][...], dtype=bool)


def is_done(store: Path, ri: int, si: int) -> bool:
    return bool(_group(store)["done"][ri, si])


_INPUTS = ("run", "step", "tokens", "prefix_tokens", "sample_seq", "sample_pos", "hsample_seq",
           "hsample_pos", "hlayer")


def read_inputs(store: Path) -> dict:
    """What every job reads back: coordinates, tokens, samples, head-score inputs, dims."""
    g = _group(store)
    with known_zarr_warnings_ignored():  # zarr 3.0 warns on reading the run ids
        v = {n: g[n][...] for n in _INPUTS}
    attrs = dict(g.attrs)
    ints = {k: np.asarray(v[k], dtype=np.int64) for k in _INPUTS[3:8]}
    ints["tokens"] = np.asarray(v["tokens"], dtype=np.int32)  # as stored: 4 bytes a token
    return {
        "runs": [str(r) for r in v["run"]],
        "steps": [int(s) for s in v["step"]],
        **ints,
        "hlayers": [int(x) for x in v["hlayer"]],
        "dims": Dims(**json.loads(attrs["dims"])),
        "logprob_dtype": str(g["logprob"].dtype),
        "attrs": attrs,
    }


def read_probe_inputs(store: Path) -> ProbeArrays | None:
    """The store's tokenised behaviour probes, or None if it has none."""
    g = _group(store)
    if "probe_tokens" not in g:
        return None

    def get(name: str) -> np.ndarray:
        with known_zarr_warnings_ignored():  # zarr 3.0 warns on reading strings
            return np.asarray(g[name][...])

    return ProbeArrays([str(x) for x in get("probe")], as_str(get("item_probe")),
                       as_str(get("item_id")), get("probe_tokens").astype(np.int32),
                       get("prow_item").astype(np.int64), get("prow_start").astype(np.int64),
                       get("prow_len").astype(np.int64), get("prow_correct").astype(bool),
                       as_str(get("probe_scoring")) if "probe_scoring" in g else None)


def write_job(store: Path, ri: int, si: int, values: dict[str, np.ndarray], dims: Dims,
              logprob_dtype: str = "float32") -> None:
    """Write one job's values into its own chunks (concurrently), then mark it done."""
    specs = job_vars(logprob_dtype, dims)
    missing = set(specs) - set(values)
    if missing:
        raise ValueError(f"job values lack {sorted(missing)}")
    g = _group(store, mode="r+")
    for name, var in specs.items():
        g[name][ri, si] = padded(values[name], var, dims)
    g["done"][ri, si] = True  # last: the job is complete only now


FAILURES = ".failures.json"


def failures_path(store: Path) -> Path:
    return beside(store, FAILURES)


def read_failures(store: Path) -> dict[str, str]:
    """``"run@step" -> reason`` for the jobs whose last try failed (``.<STORE name>.failures.json``
    beside the store; stores of format 1 kept it inside, as ``STORE/.failures.json``)."""
    for path in (failures_path(store), Path(store) / FAILURES):
        try:
            if path.is_file():
                return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            return {}
    return {}


def record_failures(store: Path, failed: dict[tuple[str, int], str],
                    succeeded: list[tuple[str, int]]) -> dict[str, str]:
    """Add this pass's failed jobs to the failures file and drop those that now succeeded.

    The report lists them, so that a checkpoint that could not be measured is
    named rather than silently missing from every analysis.
    """
    old = read_failures(store)
    for run, step in succeeded:
        old.pop(f"{run}@{step}", None)
    old |= {f"{run}@{step}": why for (run, step), why in failed.items()}
    path = failures_path(store)
    if old:
        write_json(path, old)
    elif path.exists():
        path.unlink()
    return old
