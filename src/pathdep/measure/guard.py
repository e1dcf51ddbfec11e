"""What measure does with the audit: refuse to measure identical weights twice unknowingly.

Before a store is created (or grown), :func:`audit_attrs` audits the whole suite
(:func:`pathdep.suites.audit`) and returns the store attributes ``duplicates``
(within-run groups, as before) and ``audit`` (the report, JSON). It refuses a
hub revision that does not exist, and checkpoints of different runs that hold
the same weights (pythia#203) when two of them would be in the store, unless
``allow_duplicates``. On a store that exists, :func:`check_stored` applies the
audit the store recorded to the jobs asked for now, so measuring one copy now
and the other later is refused too.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pathdep.errors import PathdepError
from pathdep.suites import Suite

log = logging.getLogger(__name__)

_COPY_KINDS = ("cross-run-duplicate", "lineage")


def _pairs(todo: Suite) -> set[tuple[str, int]]:
    return {(r.id, c.step) for r in todo.runs for c in r.checkpoints}


def stored_pairs(store: Path) -> set[tuple[str, int]]:
    """(run, step) of every job the store holds already."""
    from pathdep.store import done_flags, is_store, read_inputs

    if not is_store(store):
        return set()
    inputs, done = read_inputs(store), done_flags(store)
    return {(r, s) for i, r in enumerate(inputs["runs"]) for j, s in enumerate(inputs["steps"])
            if done[i, j]}


def copy_groups(findings: list[dict]) -> list[list[tuple[str, int]]]:
    """Groups of (run, step) across runs with one digest, from a report's findings."""
    return [[(f["run"], s) for s in f["steps"]]
            + [(o["run"], s) for o in f["others"] for s in o["steps"]]
            for f in findings if f["kind"] in _COPY_KINDS and f.get("digest")]


def copies_refusal(findings: list[dict], todo: set, stored: set, allow: bool) -> str | None:
    """Why measuring ``todo`` (beside ``stored``) would measure one set of weights twice."""
    copies = [g for g in copy_groups(findings)
              if set(g) & todo and len(set(g) & (todo | stored)) > 1]
    if not copies:
        return None
    named = "; ".join(", ".join(f"{r}@{s}" for r, s in g if (r, s) in todo | stored)
                      for g in copies)
    if allow:
        log.warning("measuring identical weights in several runs (allowed): %s", named)
        return None
    return (f"these checkpoints of different runs hold identical weights, so measuring each "
            f"would measure the same weights twice: {named}. Pass --allow-duplicates "
            "(measure(..., allow_duplicates=True)) to measure them anyway (the store records "
            "them), or leave the copies out with --runs / --steps")


def audit_attrs(full: Suite, todo: Suite, allow: bool, store: Path) -> dict[str, str]:
    """The store attrs ``duplicates`` and ``audit`` (JSON; "" if the audit could not run)."""
    from pathdep.suites.duplicates import MissingOnHub
    from pathdep.suites.integrity import audit

    try:
        report = audit(full)
    except MissingOnHub:
        raise
    except PathdepError as e:
        log.warning("could not audit the suite for duplicate checkpoints: %s", e)
        return {"duplicates": "", "audit": ""}
    for f in report.findings:
        log.warning("audit: %s, run %s steps %s: %s", f.kind, f.run, f.steps, f.detail)
    want = _pairs(todo)
    gone = [f.detail for f in report.of_kind("missing-revision")
            if (f.run, f.steps[0]) in want and not full.run(f.run).checkpoint(f.steps[0]).path]
    why = [f"{'; '.join(gone)}: leave these checkpoints out (--runs / --steps) or fix the "
           "suite manifest"] if gone else []
    record = {**report.to_dict(digests=False), "allow_duplicates": allow}
    copies = copies_refusal(record["findings"], want, stored_pairs(store), allow)
    if why or copies:
        raise PathdepError("; and ".join(why + ([copies] if copies else [])))
    dups = [{"run": f.run, "steps": f.steps} for f in report.of_kind("within-run-duplicate")]
    return {"duplicates": json.dumps(dups), "audit": json.dumps(record)}


def check_stored(store: Path, todo: Suite, allow: bool) -> None:
    """Refuse jobs that copy weights the store holds, by the audit it recorded."""
    import zarr  # deferred: keeps `import pathdep` light

    recorded = zarr.open_group(store, mode="r").attrs.get("audit")
    if not recorded:
        return
    record = json.loads(recorded)
    want, stored = _pairs(todo), stored_pairs(store)
    why = copies_refusal(record["findings"], want, stored,
                         allow or record.get("allow_duplicates", False))
    if why:
        raise PathdepError(why)
    if allow and not record.get("allow_duplicates") and copies_refusal(
            record["findings"], want, stored, False):
        record["allow_duplicates"] = True  # the store records that copies were let in
        zarr.open_group(store, mode="r+").attrs["audit"] = json.dumps(record)
