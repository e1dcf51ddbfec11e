"""Lineage from weights: does each run descend from its own step 0?

For each run, take its first trained checkpoint (the first step after 0 whose
weights differ from its step 0: Pythia's step1 and step2 repeat step0,
pythia#83) and measure the parameter distance (L2 over every tensor) to every
run's step 0. A run is flagged when another run's step 0 is clearly closer
than its own (distance < ``MARGIN`` x its own), as for the pythia-160m
weight-seed runs, whose step1 equals the data-seed init (pythia#203).

Independent random inits lie at nearly equal distances from any checkpoint
(distances concentrate in high dimensions), so the margin keeps unrelated runs
from being flagged by chance; runs that share one init are at equal distance
and are not flagged either.

Needs tensors, so only local and cached checkpoints are compared (safetensors
only; pickles are never loaded here); the report says which runs were not
checked and why.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from pathdep import progress
from pathdep.suites.duplicates import _weight_files, cached_folder
from pathdep.suites.model import Checkpoint, Run, Suite

log = logging.getLogger(__name__)

MARGIN = 0.9


def _files(ckpt: Checkpoint) -> tuple[list[Path], str]:
    """The safetensors files of a local or cached checkpoint, or ([], why not)."""
    folder = Path(ckpt.path) if ckpt.path else cached_folder(ckpt)
    if folder is None:
        return [], (f"{ckpt.location} is on the hub only (not cached); download it to check "
                    f"lineage (hf download {ckpt.repo} --revision {ckpt.revision})")
    files = _weight_files(folder)
    if not files:
        return [], f"{ckpt.location} has no complete weights"
    if not all(f.suffix == ".safetensors" for f in files):
        return [], f"{ckpt.location} holds pickled weights; lineage reads safetensors only"
    return files, ""


def _first_trained(run: Run, digests: dict[int, str], gone) -> Checkpoint | None:
    """The first checkpoint after step 0 whose weights differ from step 0."""
    init = digests.get(0)
    for c in run.checkpoints:
        if c.step > 0 and (run.id, c.step) not in gone and digests.get(c.step) != init:
            return c
    return None


def _plan(suite: Suite, gone, report) -> tuple[dict, dict]:
    """(run -> files of its step 0, run -> (step, files) of its first trained checkpoint)."""
    inits, firsts = {}, {}
    for run in suite.runs:
        digests = report.digests.get(run.id, {})
        if 0 not in digests:
            report.lineage[run.id] = {"checked": False, "why": "no step 0 in the audited checkpoints"}
            continue
        files, why = _files(run.checkpoint(0))
        if not files:
            report.lineage[run.id] = {"checked": False, "why": why}
            continue
        inits[run.id] = files
        first = _first_trained(run, digests, gone)
        if first is None:
            report.lineage[run.id] = {"checked": False,
                                      "why": "no checkpoint after step 0 with other weights"}
            continue
        files, why = _files(first)
        if files:
            firsts[run.id] = (first.step, files)
        else:
            report.lineage[run.id] = {"checked": False, "why": why}
    return inits, firsts


_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
           "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
           "BOOL": "bool"}


class _SafeFile:
    """Reads one tensor at a time from a .safetensors file (8-byte header size, JSON header,
    raw little-endian data), so no tensor is read that is not asked for."""

    def __init__(self, path: Path, f):
        import json
        import struct

        self.path, self.f = path, f
        (n,) = struct.unpack("<Q", f.read(8))
        self.header = {k: v for k, v in json.loads(f.read(n)).items() if k != "__metadata__"}
        self.start = 8 + n

    def keys(self) -> list[str]:
        return list(self.header)

    def get_tensor(self, name: str):
        import torch  # deferred: keeps `import pathdep` light

        meta = self.header[name]
        lo, hi = meta["data_offsets"]
        self.f.seek(self.start + lo)
        raw = bytearray(self.f.read(hi - lo))
        dtype = getattr(torch, _DTYPES[meta["dtype"]])
        if not raw:
            return torch.zeros(meta["shape"], dtype=dtype)
        return torch.frombuffer(raw, dtype=dtype).reshape(meta["shape"])


def _open(stack: contextlib.ExitStack, files: list[Path]) -> dict:
    """name -> the open safetensors file holding that tensor."""
    where = {}
    for f in files:
        h = _SafeFile(f, stack.enter_context(open(f, "rb")))  # noqa: SIM115 (the stack closes it)
        where.update({k: h for k in h.keys()})  # noqa: SIM118 (a file, not a dict)
    return where


def distances(inits: dict[str, list[Path]], firsts: dict[str, list[Path]]) -> dict[str, dict]:
    """run -> other run -> L2 distance from run's first checkpoint to other's step 0.

    Tensors are read one name at a time (memory: one tensor per checkpoint);
    a pair whose tensor names or shapes differ gets no distance.
    """
    with contextlib.ExitStack() as stack:
        init_h = {r: _open(stack, f) for r, f in inits.items()}
        first_h = {r: _open(stack, f) for r, f in firsts.items()}
        sq = {r: dict.fromkeys(inits, 0.0) for r in firsts}
        names = sorted({n for h in first_h.values() for n in h})
        with progress.bar("lineage", total=len(names), info="") as bar:
            for name in names:
                for r, handles in first_h.items():
                    t = handles[name].get_tensor(name).double() if name in handles else None
                    for s, ih in init_h.items():
                        u = ih[name].get_tensor(name) if name in ih else None
                        if t is None or u is None or u.shape != t.shape or sq[r][s] is None:
                            sq[r][s] = None
                            continue
                        sq[r][s] += float(((t - u.double()) ** 2).sum())
                bar.advance()
    return {r: {s: (v ** 0.5 if v is not None else None) for s, v in row.items()}
            for r, row in sq.items()}


def check_lineage(suite: Suite, gone: set, report) -> None:
    """Add a ``lineage`` finding for each run closer to another run's step 0 than to its own."""
    from pathdep.suites.integrity import Finding  # deferred: integrity imports this module

    inits, firsts = _plan(suite, gone, report)
    if len(inits) < 2 or not firsts:
        report.notes["lineage"] = ("weights not compared: needs step 0 of at least two runs and "
                                   "a trained checkpoint, local or cached (see lineage)")
        return
    dist = distances(inits, {r: f for r, (_, f) in firsts.items()})
    for r, row in dist.items():
        step = firsts[r][0]
        own = row.get(r)
        near = min((s for s in row if s != r and row[s] is not None), key=lambda s: row[s],
                   default=None)
        report.lineage[r] = {"checked": own is not None, "step": step, "own": own,
                             "distances": row}
        if own is None:
            report.lineage[r]["why"] = "its tensors do not match its own step 0"
            continue
        if near is not None and row[near] < MARGIN * own:
            report.findings.append(Finding(
                "lineage", r, [step],
                f"step {step} is closer to run {near}'s step 0 (distance {row[near]:.4g}) than "
                f"to its own step 0 ({own:.4g}): it does not descend from its own init",
                others=[{"run": near, "steps": [0]}], source="pythia#203"))
    unchecked = [r for r, v in report.lineage.items() if not v.get("checked")]
    report.notes["lineage"] = (f"weights compared for {len(dist)} runs" + (
        f"; not checked: {', '.join(unchecked)} (see lineage)" if unchecked else ""))
