"""Expand a spec's grid into runs with stable, readable ids.

    seed1-data0            init seed 1, data-order seed 0
    seed0-data0-lr0.003    a hyperparameter that varies across the grid
    seed0-data0-canary     an intervention crossed as a factor

Every run carries every factor that varies anywhere in the suite (with the
base value where it was not changed), so analyses can group by any of them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from pathdep.errors import PathdepError
from pathdep.spec import InterventionSpec, ModelSpec, Spec, TrainSpec

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


def _plan(spec: Spec, values: dict, run_id: str, factor_keys: list[str]) -> RunPlan:
    model_kw = {k: v for k, v in values.items() if k in ModelSpec.model_fields}
    train_kw = {k: v for k, v in values.items() if k in TrainSpec.model_fields}
    try:
        model = ModelSpec.model_validate(spec.model.model_dump() | model_kw)
        train = TrainSpec.model_validate(spec.train.model_dump() | train_kw)
    except ValueError as e:
        raise PathdepError(f"run {run_id}: the grid gives invalid values: {e}") from None
    chosen = values.get("intervention")
    if chosen is None:
        ivs = list(spec.interventions)
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
        plans.append(_plan(spec, values, _run_id(values, varying), factor_keys))
    for v in spec.grid.variants:
        values = base | {k: x for k, x in v.items() if k != "name"}
        rid = v.get("name") or _run_id(values, varying) + "-" + "-".join(
            f"{k}{_fmt(v[k])}" for k in sorted(v) if k not in ("name", "seed", "data_seed")
        )
        plans.append(_plan(spec, values, rid, factor_keys))
    ids = [p.id for p in plans]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise PathdepError(f"the grid gives several runs the same id {dupes}; give variants a 'name'")
    return plans
