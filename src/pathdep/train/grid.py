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

from pathdep.errors import PathdepError
from pathdep.paths import check_name
from pathdep.spec import ARCH_ONLY_KEYS, ModelSpec, Spec, TrainSpec
from pathdep.train.branches import plan_branches
from pathdep.train.run_plan import RunPlan, fmt, one_line

__all__ = ["RunPlan", "expand_grid"]

def _run_id(values: dict, varying: list[str]) -> str:
    parts = [f"seed{values['seed']}", f"data{values['data_seed']}"]
    for k in varying:
        if k in ("seed", "data_seed"):
            continue
        v = values[k]
        parts.append(fmt(v) if k == "intervention" else f"{k}{fmt(v)}")
    return "-".join(parts)


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
        raise PathdepError(f"run {run_id}: the grid gives invalid values: {one_line(e)}") from None
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
            f"{k}{fmt(v[k])}" for k in sorted(v) if k not in ("name", "seed", "data_seed")
        )
        plans.append(_plan(spec, values, rid, factor_keys, set(v)))
    plans = plan_branches(spec, plans)
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
