"""Plan the ``[[branches]]`` runs of a suite: a pure function from grid plans to all plans.

A branch continues its parent from step ``at`` with something changed (data
order, an intervention, train keys). :func:`plan_branches` returns new plans:
the grid's (with the factors ``parent`` = "" and ``branch_step`` = -1, and the
branch's changed keys at their base values) followed by the branches', and
sets every parent's ``branch_states`` (the steps at which its state must be
saved for a branch) from the branches planned. It never changes the plans it
is given. Ids and factors are described in :mod:`pathdep.train.grid`.
"""

from __future__ import annotations

import dataclasses
import itertools

from pathdep.errors import PathdepError
from pathdep.spec import BranchSpec, InterventionSpec, Spec, TrainSpec
from pathdep.train.run_plan import RunPlan, fmt, one_line
from pathdep.train.schedule import checkpoint_steps


def plan_branches(spec: Spec, grid: list[RunPlan]) -> list[RunPlan]:
    """The grid's plans (with branch factors) then the branches', in the order of the spec."""
    if not spec.branches:
        return list(grid)
    changed = sorted({k for b in spec.branches for k in b.changes})
    if any(b.intervention for b in spec.branches):
        changed.append("intervention")
    plans = [dataclasses.replace(p, factors=_grid_factors(p, changed)) for p in grid]
    by_id = {p.id: p for p in plans}
    ivs = {i.name: i for i in spec.interventions}
    for b in spec.branches:
        parent = by_id.get(b.parent)
        if parent is None:
            raise PathdepError(
                f"branches {b.name!r}: parent {b.parent!r} is not a run of this suite (branches may "
                f"start from grid runs or earlier branches); runs: {', '.join(by_id)}"
            )
        for choice in _choices(b):
            plan = _branch(b, parent, choice, ivs)
            by_id[plan.id] = plan
    children: dict[str, list[int]] = {}
    for p in by_id.values():
        if p.parent is not None and p.branch_step not in children.setdefault(p.parent, []):
            children[p.parent].append(p.branch_step)
    return [dataclasses.replace(p, branch_states=children.get(p.id, [])) for p in by_id.values()]


def _grid_factors(p: RunPlan, changed: list[str]) -> dict:
    factors = dict(p.factors) | {"parent": "", "branch_step": -1}
    for k in changed:
        factors.setdefault(k, "none" if k == "intervention" else getattr(p.train, k))
    return factors


def _choices(b: BranchSpec) -> list[dict]:
    """Every combination of the branch's crossed lists, as {key: value} (None = unchanged)."""
    lists = {"at": b.at, "data_seed": b.data_seed or [None],
             "intervention": b.intervention or [None]} | b.changes
    return [dict(zip(lists, combo, strict=True)) for combo in itertools.product(*lists.values())]


def _end(b: BranchSpec, parent: RunPlan, k: int) -> int:
    """The branch's last step; an error when ``at`` or ``steps`` does not fit the parent."""
    lo = parent.branch_step if parent.branch_step is not None else 0
    if not lo <= k < parent.last_step:
        raise PathdepError(
            f"branches {b.name!r}: at = {k} is not a step of {parent.id} "
            f"(which trains steps {lo}..{parent.last_step}); branch before its last step"
        )
    end = k + b.steps if b.steps else parent.last_step
    if end > parent.train.steps:
        raise PathdepError(
            f"branches {b.name!r}: at {k} + steps {b.steps} runs past train.steps "
            f"({parent.train.steps}); lower steps or leave it out to train to the end"
        )
    return end


def _branch_id(b: BranchSpec, v: dict) -> str:
    parts = [f"{b.name}-at{v['at']}"]
    if v["data_seed"] is not None:
        parts.append(f"data{v['data_seed']}")
    if v["intervention"] is not None:
        parts.append(v["intervention"])
    return "-".join(parts + [f"{key}{fmt(v[key])}" for key in b.changes])


def _save_steps(b: BranchSpec, parent: RunPlan, k: int, end: int) -> list[int]:
    """Checkpoint steps: the branch's schedule (else the parent's) counted from step k."""
    sched = b.checkpoints if b.checkpoints is not None else parent.train.checkpoints
    if isinstance(sched, list):
        sched = [s for s in sched if s <= end - k]
    return [k + s for s in checkpoint_steps(sched, end - k)]


def _branch(b: BranchSpec, parent: RunPlan, v: dict,
            ivs: dict[str, InterventionSpec]) -> RunPlan:
    """The plan of one combination ``v`` of branch ``b`` from ``parent``."""
    k = v["at"]
    end = _end(b, parent, k)
    rid = _branch_id(b, v)
    try:
        train = TrainSpec.model_validate(parent.train.model_dump()
                                         | {key: v[key] for key in b.changes})
    except ValueError as e:
        raise PathdepError(f"run {rid}: the branch gives invalid values: {one_line(e)}") from None
    own = []
    if v["intervention"] not in (None, "none"):
        iv = ivs[v["intervention"]]
        own = [iv.model_copy(update={"start": k + iv.start, "end": k + iv.end})]
    factors = dict(parent.factors) | {"parent": parent.id, "branch_step": k}
    factors |= {key: v[key] for key in ("data_seed", "intervention") if v[key] is not None}
    factors |= {key: v[key] for key in b.changes}
    data_seed = v["data_seed"] if v["data_seed"] is not None else parent.data_seed
    return RunPlan(rid, parent.seed, data_seed, parent.model, train,
                   list(parent.interventions) + own, factors, parent=parent.id,
                   branch_step=k, end=end, save_steps=_save_steps(b, parent, k, end))
