"""Audit a suite's integrity before measuring it: ``pathdep audit SUITE``.

    report = audit(load_suite("pythia-160m", steps="0:4000"))
    report.findings          # what is wrong, one Finding per defect
    report.to_dict()         # the JSON report (`pathdep audit SUITE --json FILE`)

From weight digests (the hub's LFS sha256 when online, so nothing is
downloaded; file hashes for local and cached checkpoints, see
:mod:`pathdep.suites.duplicates`) it finds four kinds of defect, each seen in
public suites:

- ``within-run-duplicate``: identical weights at different steps of one run.
  Contiguous copies are Pythia's step0 = step1 (= step2) (pythia#83, #198);
  non-contiguous ones mean a later checkpoint is served under earlier steps
  (pythia-2.8b: 76 step branches hold the final weights, pythia#205, #195).
- ``cross-run-duplicate``: identical weights in two runs (at the same or other
  steps), e.g. seeds that share weights (pythia#203: at step1 the 160m
  data-seed and weight-seed runs are identical). Runs that share their step 0
  because their factors give them one init (same ``seed``) are expected and
  only noted, and so are a branch's copies of its parent at the same steps
  (its first checkpoint is the parent's at the branch step; a branch that
  changes nothing replays the parent).
- ``lineage``: a run whose step 0 is not its own initialisation. From digests:
  its step 0 equals another run's step 0 though their ``seed`` factors differ.
  From weights (local or cached checkpoints only, see
  :mod:`pathdep.suites.lineage`): its first trained checkpoint is closer to
  another run's step 0 than to its own (pythia#203).
- ``missing-revision``: checkpoints of the schedule the hub does not have
  (``list_repo_refs``), or local folders without complete weights (pythia#202).

Findings are not errors: the audit ran. Bad input (a missing repo, offline
with nothing cached) raises :class:`PathdepError`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pathdep import progress
from pathdep._hf import offline
from pathdep.suites.duplicates import _hub_exception, _weight_files, digest_and_source
from pathdep.suites.model import Checkpoint, Run, Suite

log = logging.getLogger(__name__)

KINDS = ("within-run-duplicate", "cross-run-duplicate", "lineage", "missing-revision")
INIT_FACTORS = ("seed", "init_seed", "weight_seed")  # the factor that sets a run's init
_COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass
class Finding:
    """One defect: its kind, the run and steps it concerns, and the other runs involved."""

    kind: str
    run: str
    steps: list[int]
    detail: str
    digest: str | None = None
    others: list[dict] = field(default_factory=list)  # [{"run": id, "steps": [...]}]
    contiguous: bool | None = None
    source: str | None = None  # the public-suite issue this defect is known from

    def pairs(self) -> list[tuple[str, int]]:
        """Every (run, step) the finding names."""
        return [(self.run, s) for s in self.steps] + [
            (o["run"], s) for o in self.others for s in o["steps"]]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class AuditReport:
    """What :func:`audit` found, how each digest was read, and which checks could not run."""

    suite: str
    runs: list[str]
    checkpoints: int
    findings: list[Finding] = field(default_factory=list)
    digests: dict[str, dict[int, str]] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # check -> how it ran, or why it did not
    lineage: dict[str, dict] = field(default_factory=dict)  # run -> distances, or why not checked

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def summary(self) -> dict:
        counts = {k: len(self.of_kind(k)) for k in KINDS}
        unique = len({d for by_step in self.digests.values() for d in by_step.values()})
        return {"runs": len(self.runs), "checkpoints": self.checkpoints,
                "hashed": sum(self.sources.values()), "unique_weights": unique,
                "digest_sources": self.sources, "findings": counts,
                "clean": not self.findings, "notes": self.notes}

    def to_dict(self, digests: bool = True) -> dict:
        out = {"suite": self.suite, "summary": self.summary(),
               "findings": [f.to_dict() for f in self.findings], "lineage": self.lineage}
        if digests:
            out["digests"] = {r: {str(s): d for s, d in by.items()} for r, by in self.digests.items()}
        return out

    def duplicated_pairs(self) -> list[list[tuple[str, int]]]:
        """Groups of (run, step) across runs that hold one set of weights."""
        kinds = ("cross-run-duplicate", "lineage")
        return [f.pairs() for f in self.findings if f.kind in kinds and f.digest]


def _init_of(run: Run):
    """The run's init factor value (``seed``), or a marker when it has none."""
    return next((run.factors[k] for k in INIT_FACTORS if k in run.factors), "unknown")


# --- missing revisions -------------------------------------------------------------
def _hub_refs(repo: str) -> set[str]:
    import huggingface_hub  # deferred: keeps `import pathdep` light

    try:
        refs = huggingface_hub.HfApi().list_repo_refs(repo)
    except Exception as e:  # missing repo, network, auth
        raise _hub_exception(e, repo) from e
    return {r.name for r in refs.branches + refs.tags}


def _missing(suite: Suite, report: AuditReport) -> set[tuple[str, int]]:
    """Find checkpoints without weights (hub refs; local folders); return them as (run, step)."""
    gone: set[tuple[str, int]] = set()
    refs: dict[str, set[str]] = {}
    hub_runs = [r for r in suite.runs if any(not c.path for c in r.checkpoints)]
    if hub_runs and offline():
        report.notes["missing-revision"] = ("hub revisions not listed: HF_HUB_OFFLINE is set "
                                            "(only cached checkpoints were read)")
    for run in suite.runs:
        lost: list[Checkpoint] = []
        for c in run.checkpoints:
            if c.path:
                if not _weight_files(Path(c.path)):
                    lost.append(c)
            elif not offline() and not _COMMIT.fullmatch(c.revision or ""):
                if c.repo not in refs:
                    refs[c.repo] = _hub_refs(c.repo)
                if (c.revision or "main") not in refs[c.repo]:
                    lost.append(c)
        for c in lost:
            gone.add((run.id, c.step))
            where = f"folder {c.path} has no complete weights" if c.path else \
                f"{c.repo} has no revision {c.revision!r}"
            report.findings.append(Finding("missing-revision", run.id, [c.step], where,
                                           source="pythia#202"))
    _known_gaps(suite, report)
    report.notes.setdefault("missing-revision", "checked: hub refs and local folders")
    return gone


def _known_gaps(suite: Suite, report: AuditReport) -> None:
    """Steps a preset already leaves out because the hub lacks them (pythia#202)."""
    run_of = {c.repo: r for r in suite.runs for c in r.checkpoints[:1] if c.repo}
    for gap in suite.meta.get("missing_checkpoints", []):
        run = run_of.get(gap["repo"])
        if run and run.steps and run.steps[0] <= gap["step"] <= run.steps[-1]:
            report.findings.append(Finding(
                "missing-revision", run.id, [gap["step"]],
                f"{gap['repo']} has no weights at step {gap['step']} (known; the preset "
                "leaves it out)", source=gap.get("source")))


# --- digests -------------------------------------------------------------------------
def _hash_all(suite: Suite, skip: set[tuple[str, int]], report: AuditReport) -> None:
    with progress.bar("hashing checkpoints", total=suite.n_checkpoints - len(skip), info="") as bar:
        for run in suite.runs:
            by_step = report.digests.setdefault(run.id, {})
            for c in run.checkpoints:
                if (run.id, c.step) in skip:
                    continue
                by_step[c.step], where = digest_and_source(run, c)
                report.sources[where] = report.sources.get(where, 0) + 1
                bar.advance(info=run.id)


def _within_runs(report: AuditReport) -> None:
    for run_id, by_step in report.digests.items():
        steps = sorted(by_step)
        groups: dict[str, list[int]] = {}
        for s in steps:
            groups.setdefault(by_step[s], []).append(s)
        for digest, same in groups.items():
            if len(same) < 2:
                continue
            contiguous = steps.index(same[-1]) - steps.index(same[0]) + 1 == len(same)
            detail = (f"steps {same} hold identical weights" + ("" if contiguous else
                      "; other weights lie between them, so a later checkpoint may be served "
                      "under earlier steps"))
            report.findings.append(Finding(
                "within-run-duplicate", run_id, same, detail, digest, contiguous=contiguous,
                source="pythia#83" if contiguous else "pythia#205"))


def _without_branch_points(suite: Suite, runs: dict[str, list[int]],
                           digests: dict[str, dict[int, str]], notes: list[str]) -> dict:
    """Drop a branch's copies of its parent at the same steps: expected by design.

    A branch's first checkpoint is its parent's weights at the branch step; a
    branch that changes nothing (same data seed) replays its parent exactly, as
    training is deterministic. Kept: copies at steps where the parent's own
    checkpoint was audited and differs, and copies at other steps.
    """
    out = {}
    for r, steps in runs.items():
        factors = suite.run(r).factors
        parent, k = factors.get("parent"), factors.get("branch_step")
        if parent and isinstance(k, int):
            same = [s for s in steps if s in runs.get(parent, [])
                    or (s == k and k not in digests.get(parent, {}))]
            if [s for s in same if s != k]:
                notes.append(f"branch {r} repeats its parent {parent} at steps "
                             f"{[s for s in same if s != k]}")
            steps = [s for s in steps if s not in same]
        if steps:
            out[r] = steps
    return out


def _across_runs(suite: Suite, report: AuditReport) -> None:
    holders: dict[str, dict[str, list[int]]] = {}  # digest -> run -> steps
    for run_id, by_step in report.digests.items():
        for s, d in sorted(by_step.items()):
            holders.setdefault(d, {}).setdefault(run_id, []).append(s)
    shared_init, replays = [], []
    for digest, runs in holders.items():
        runs = _without_branch_points(suite, runs, report.digests, replays)
        if len(runs) < 2:
            continue
        ids = list(runs)
        others = [{"run": r, "steps": runs[r]} for r in ids[1:]]
        if all(report.digests[r].get(0) == digest for r in ids):  # every copy is a step-0 init
            inits = {r: _init_of(suite.run(r)) for r in ids}
            if len(set(map(repr, inits.values()))) == 1:
                shared_init.append(ids)
                continue
            detail = ("step 0 is bit-identical across runs whose init factors differ ("
                      + ", ".join(f"{r}: {v}" for r, v in inits.items()) + "): they share one "
                      "initialisation")
            report.findings.append(Finding("lineage", ids[0], runs[ids[0]], detail, digest,
                                           others, source="pythia#203"))
            continue
        detail = "identical weights in runs " + ", ".join(
            f"{r} (steps {s})" for r, s in runs.items())
        report.findings.append(Finding("cross-run-duplicate", ids[0], runs[ids[0]], detail,
                                       digest, others, source="pythia#203"))
    if replays:
        report.notes["branch-replay"] = "; ".join(replays) + " (its change had no effect)"
    if shared_init:
        report.notes["shared-init"] = "; ".join(
            "step 0 shared, as their init factor says: " + ", ".join(g) for g in shared_init)


def audit(suite: Suite | str | Path, *, runs: list[str] | None = None,
          steps: list[int] | str | None = None, every: int | None = None,
          lineage: bool = True) -> AuditReport:
    """Audit ``suite`` (a Suite, folder, manifest or preset; narrowed as in ``select``).

    ``lineage=False`` skips the weight-distance check (which reads tensors).
    Returns an :class:`AuditReport`; bad input raises :class:`PathdepError`.
    """
    from pathdep.suites.lineage import check_lineage
    from pathdep.suites.load import load_suite, select

    full = suite if isinstance(suite, Suite) else load_suite(suite)
    chosen = select(full, runs=runs, steps=steps, every=every)
    report = AuditReport(chosen.name, chosen.run_ids, chosen.n_checkpoints)
    gone = _missing(chosen, report)
    _hash_all(chosen, gone, report)
    _within_runs(report)
    _across_runs(chosen, report)
    if lineage:
        check_lineage(chosen, gone, report)
    else:
        report.notes["lineage"] = "weights not compared (lineage=False)"
    order = {k: i for i, k in enumerate(KINDS)}
    report.findings.sort(key=lambda f: (order[f.kind], f.run, f.steps))
    for f in report.findings:
        log.info("%s: run %s steps %s: %s", f.kind, f.run, f.steps, f.detail)
    return report
