"""Expand a spec's grid into runs with stable, readable ids.

    seed1-data0            init seed 1, data-order seed 0
    seed0-data0-lr0.003    a hyperparameter that varies across the grid
    seed0-data0-canary     an intervention crossed as a factor
    stab-at300-data1       a branch: seed0-data0's state at step 300, trained on
                           with data-order seed 1 (``[[branches]]``)

Every run carries every factor that varies anywhere in the suite (with the
base value where it was not changed), so analyses can group by any of them.
A suite with branches gives every run the factors ``parent`` ("" for grid
runs) and ``branch_step`` (-1 for grid runs).

Interventions: a grid without ``grid.intervention`` applies every intervention
that no branch names to every grid run; a branch adds its own (with steps
counted from the branch step) to those its parent already has.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from pydantic import ValidationError

from pathdep.errors import PathdepError
from pathdep.paths import check_name
from pathdep.spec import ARCH_ONLY_KEYS, InterventionSpec, ModelSpec, Spec, TrainSpec
from pathdep.train.schedule import checkpoint_steps

_SHORT = {"seed": "seed", "data_seed": "data", "intervention": ""}


@dataclass
class RunPlan:
    """Everything needed to train one run."""

    id: str
    seed: int
    data_seed: int
    model: ModelSpec
    train: TrainSpec
    interventions: list[InterventionSpec] = field(default_factory=list)
    factors: dict = field(default_factory=dict)
    parent: str | None = None  # a branch: the run it continues
    branch_step: int | None = None  # ... from this step of the parent
    end: int | None = None  # last step to train (default train.steps; the lr schedule keeps train.steps)
    save_steps: list[int] | None = None  # checkpoint steps (default: the train.checkpoints schedule)
    branch_states: list[int] = field(default_factory=list)  # steps where branches of this run start

    @property
    def last_step(self) -> int:
        return self.end if self.end is not None else self.train.steps

    def checkpoint_steps(self) -> list[int]:
        if self.save_steps is not None:
            return list(self.save_steps)
        return checkpoint_steps(self.train.checkpoints, self.train.steps)


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _run_id(values: dict, varying: list[str]) -> str:
    parts = [f"seed{values['seed']}", f"data{values['data_seed']}"]
    for k in varying:
        if k in ("seed", "data_seed"):
            continue
        v = values[k]
        parts.append(_fmt(v) if k == "intervention" else f"{k}{_fmt(v)}")
    return "-".join(parts)


def _why(e: ValueError) -> str:
    """A validation error in one line per problem: the key, what is wrong, the value given."""
    if not isinstance(e, ValidationError):
        return str(e)
    parts = []
    for err in e.errors():
        key = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        given = "" if err["type"] == "value_error" else f" (got {err.get('input')!r})"
        parts.append(f"{key + ': ' if key else ''}{msg}{given}")
    return "; ".join(parts)


def _model_values(base: ModelSpec, values: dict, own: set[str]) -> dict:
    """The ``[model]`` keys of one run: those given in ``[model]``, then the run's grid values.

    Keys another architecture has (``rotary_pct`` for a GPT-2 run) are left out
    where the run inherits them (from ``[model]``, or from the grid's first run
    for a variant): with ``arch`` crossed, ``[model] rotary_pct = 1.0`` applies
    to the GPT-NeoX runs only. Where the run's own combination or variant (the
    keys ``own``) gives one, ModelSpec's validation names it as an error.
    """
    model_kw = {k: v for k, v in values.items() if k in ModelSpec.model_fields}
    arch = model_kw.get("arch", base.arch)
    merged = base.model_dump(exclude_unset=True) | model_kw
    return {k: v for k, v in merged.items() if k in own or ARCH_ONLY_KEYS.get(k, arch) == arch}


def _plan(spec: Spec, values: dict, run_id: str, factor_keys: list[str], own: set[str]) -> RunPlan:
    train_kw = {k: v for k, v in values.items() if k in TrainSpec.model_fields}
    try:
        model = ModelSpec.model_validate(_model_values(spec.model, values, own))
        train = TrainSpec.model_validate(spec.train.model_dump() | train_kw)
    except ValueError as e:
        raise PathdepError(f"run {run_id}: the grid gives invalid values: {_why(e)}") from None
    chosen = values.get("intervention")
    if chosen is None:
        in_branches = {n for b in spec.branches for n in b.intervention or []}
        ivs = [i for i in spec.interventions if i.name not in in_branches]
    else:
        ivs = [i for i in spec.interventions if i.name == chosen]
    factors = {k: values.get(k) for k in factor_keys}
    return RunPlan(run_id, int(values["seed"]), int(values["data_seed"]), model, train, ivs, factors)


def expand_grid(spec: Spec) -> list[RunPlan]:
    """The grid's cross product, then its variants, as RunPlans with unique ids."""
    crossed = spec.grid.factors
    base = {k: v[0] for k, v in crossed.items()}  # variants change the grid's first run
    variant_keys = sorted({k for v in spec.grid.variants for k in v if k != "name"} - set(crossed))
    factor_keys = list(crossed) + variant_keys
    for k in variant_keys:
        base[k] = getattr(spec.model, k, getattr(spec.train, k, None))
    varying = [k for k, v in crossed.items() if len(v) > 1 or k == "intervention"]
    plans = []
    for combo in itertools.product(*crossed.values()):
        values = base | dict(zip(crossed, combo, strict=True))
        plans.append(_plan(spec, values, _run_id(values, varying), factor_keys, set(crossed)))
    for v in spec.grid.variants:
        values = base | {k: x for k, x in v.items() if k != "name"}
        rid = v.get("name") or _run_id(values, varying) + "-" + "-".join(
            f"{k}{_fmt(v[k])}" for k in sorted(v) if k not in ("name", "seed", "data_seed")
        )
        plans.append(_plan(spec, values, rid, factor_keys, set(v)))
    plans += _branches(spec, plans)
    for p in plans:  # ids are folder names under <out>/runs: a factor value may not add '/'
        try:
            check_name("run", p.id)
        except ValueError as e:
            raise PathdepError(f"{e}; give the variant a 'name', or change the factor values "
                               "that make up the id") from None
    ids = [p.id for p in plans]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise PathdepError(f"the grid gives several runs the same id {dupes}; give variants a 'name'")
    return plans


def _branches(spec: Spec, grid: list[RunPlan]) -> list[RunPlan]:
    """The ``[[branches]]`` runs, after the grid's; every run gets parent/branch_step factors."""
    if not spec.branches:
        return []
    by_id = {p.id: p for p in grid}
    ivs = {i.name: i for i in spec.interventions}
    out: list[RunPlan] = []
    changed = sorted({k for b in spec.branches for k in b.changes})
    if any(b.intervention for b in spec.branches):
        changed.append("intervention")
    for p in grid:
        p.factors.update({"parent": "", "branch_step": -1})
        for k in changed:
            p.factors.setdefault(k, "none" if k == "intervention" else getattr(p.train, k))
    for b in spec.branches:
        parent = by_id.get(b.parent)
        if parent is None:
            raise PathdepError(
                f"branches {b.name!r}: parent {b.parent!r} is not a run of this suite (branches may "
                f"start from grid runs or earlier branches); runs: {', '.join(by_id)}"
            )
        lists = {"at": b.at, "data_seed": b.data_seed or [None],
                 "intervention": b.intervention or [None]} | b.changes
        for combo in itertools.product(*lists.values()):
            v = dict(zip(lists, combo, strict=True))
            k = v["at"]
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
            parts = [f"{b.name}-at{k}"]
            if v["data_seed"] is not None:
                parts.append(f"data{v['data_seed']}")
            if v["intervention"] is not None:
                parts.append(v["intervention"])
            parts += [f"{key}{_fmt(v[key])}" for key in b.changes]
            rid = "-".join(parts)
            try:
                train = TrainSpec.model_validate(parent.train.model_dump()
                                                 | {key: v[key] for key in b.changes})
            except ValueError as e:
                raise PathdepError(f"run {rid}: the branch gives invalid values: {_why(e)}") from None
            own = []
            if v["intervention"] not in (None, "none"):
                iv = ivs[v["intervention"]]
                own = [iv.model_copy(update={"start": k + iv.start, "end": k + iv.end})]
            sched = b.checkpoints if b.checkpoints is not None else parent.train.checkpoints
            if isinstance(sched, list):
                sched = [s for s in sched if s <= end - k]
            rel = checkpoint_steps(sched, end - k)
            factors = dict(parent.factors) | {"parent": parent.id, "branch_step": k}
            if v["data_seed"] is not None:
                factors["data_seed"] = v["data_seed"]
            if v["intervention"] is not None:
                factors["intervention"] = v["intervention"]
            factors.update({key: v[key] for key in b.changes})
            plan = RunPlan(rid, parent.seed, v["data_seed"] if v["data_seed"] is not None
                           else parent.data_seed, parent.model, train,
                           list(parent.interventions) + own, factors, parent=parent.id,
                           branch_step=k, end=end, save_steps=[k + s for s in rel])
            if k not in parent.branch_states:
                parent.branch_states.append(k)
            out.append(plan)
            by_id[rid] = plan
    return out
