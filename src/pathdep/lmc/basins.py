"""Basins of Juneja et al. (ICLR 2023, arXiv 2205.12411) from loss barriers, beside behaviour.

    from pathdep.lmc import basins
    res = basins("runs/demo", runs=["seed*"], step=512)

The loss barrier between every two chosen runs at one step, clustered into
basins (linearly connected within, separated by barriers between), and
compared with behavioural clusters of the same runs.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

from pathdep.analysis.contract import Analysis, CheckpointInputs, Context, Simulation
from pathdep.analysis.data import Skip
from pathdep.analysis.result import AnalysisResult
from pathdep.analysis.simulate_checkpoints import barrier_matrix
from pathdep.errors import PathdepError
from pathdep.lmc import inputs
from pathdep.lmc.barrier import loss_barrier
from pathdep.lmc.basins_report import (
    BASINS,
    Basins,
    Behaviour,
    Matrix,
    basins_of,
    cluster,
    from_matrix,
    left_out_text,
    relabel,
    result,
)
from pathdep.lmc.cache import CACHE_NAME, PathCache
from pathdep.lmc.options import BasinsOptions
from pathdep.models import model_shape
from pathdep.progress import bar
from pathdep.suites import Run, Suite, match_run_ids

log = logging.getLogger(__name__)


def _choose_runs(suite: Suite, runs, max_runs: int) -> tuple[list[Run], bool]:
    if runs:
        keep = set(match_run_ids(runs, suite.run_ids, f"suite {suite.name!r}"))
        chosen = [r for r in suite.runs if r.id in keep]
    else:
        chosen = [r for r in suite.runs if r.checkpoints]
    capped = len(chosen) > max_runs
    if capped:
        idx = np.unique(np.round(np.linspace(0, len(chosen) - 1, max_runs)).astype(int))
        log.warning("basins: %d runs; using %d evenly spread over the suite (raise max_runs for "
                    "more; the cost grows with the square)", len(chosen), len(idx))
        chosen = [chosen[i] for i in idx]
    return chosen, capped


def _one_architecture(chosen: list[Run]) -> tuple[list[Run], list[Run]]:
    """(runs kept, runs left out): the largest group of runs with one architecture and shape.

    Weights of two architectures (GPT-NeoX and GPT-2 in a suite that crosses
    ``arch``) or two sizes cannot be interpolated, so a barrier between them
    does not exist; basins are found among the runs of the largest group (ties:
    the first run's), and the others can be chosen with ``runs``.
    """
    keys = [tuple(sorted((model_shape(r) or {}).items())) for r in chosen]
    if len(set(keys)) < 2:
        return chosen, []
    counts = {k: keys.count(k) for k in keys}
    best = max(counts.values())
    keep = next(k for k in keys if counts[k] == best)
    return ([r for r, k in zip(chosen, keys, strict=True) if k == keep],
            [r for r, k in zip(chosen, keys, strict=True) if k != keep])


def _choose_steps(runs: list[Run], step: int | None) -> tuple[list[int], bool]:
    """(step per run, shared?): ``step``, else the last step all runs have, else each run's last."""
    if step is not None:
        lacking = [r.id for r in runs if step not in r.steps]
        if lacking:
            raise PathdepError(f"runs {lacking[:10]} have no checkpoint at step {step}; choose a "
                               "step all chosen runs have, or choose the runs (--run)")
        return [int(step)] * len(runs), True
    common = set(runs[0].steps).intersection(*(r.steps for r in runs[1:]))
    if common:
        return [max(common)] * len(runs), True
    return [r.steps[-1] for r in runs], False


def _behaviour(ds, runs: list[Run], steps: list[int]) -> tuple[np.ndarray | None, list[str], str]:
    """(run, probe) behaviour at each run's step, the probes kept, and why None if absent."""
    if ds is None:
        return None, [], "no measurement store was given"
    if "behavior" not in ds.variables or "probe" not in ds.dims or ds.sizes["probe"] == 0:
        return None, [], "the store has no behaviour measurements"
    store_runs = [str(r) for r in ds["run"].values]
    store_steps = np.asarray(ds["step"].values, dtype=np.int64).tolist()
    done = (np.asarray(ds["done"].transpose("run", "step").values, bool)
            if "done" in ds.variables else None)
    beh = ds["behavior"].transpose("run", "step", "probe")
    rows = []
    for r, s in zip(runs, steps, strict=True):
        if r.id not in store_runs or s not in store_steps:
            return None, [], f"the store has no behaviour for run {r.id} at step {s}"
        ri, si = store_runs.index(r.id), store_steps.index(s)
        if done is not None and not done[ri, si]:
            return None, [], f"the store has no behaviour for run {r.id} at step {s} (not done)"
        rows.append(np.asarray(beh.isel(run=ri, step=si).values, dtype=np.float64))
    x = np.stack(rows)
    keep = np.isfinite(x).all(0)
    if not keep.any():
        return None, [], "the store's behaviour is not measured at this step"
    probes = [str(p) for p in np.asarray(ds["probe"].values)[keep]]
    return x[:, keep], probes, ""


def init_of(run: Run, suite: Suite) -> str:
    """The init a run's weights descend from: its root parent's seed (branches share their
    parent's init), or the run itself when no ``seed`` factor says."""
    seen = set()
    while run.factors.get("parent") not in (None, "") and run.id not in seen:
        seen.add(run.id)
        try:
            run = suite.run(str(run.factors["parent"]))
        except KeyError:
            break
    seed = run.factors.get("seed")
    return f"seed={seed}" if seed is not None else f"run={run.id}"


def _matrix(chosen: list[Run], steps: list[int], grid: np.ndarray, cache: PathCache,
            align: list[bool], method: str) -> Matrix:
    """Barriers of every pair; ``align[k]`` (pair k in combinations order): the pair is
    permutation-aligned first, and its unaligned barrier is kept beside."""
    n = len(chosen)
    m = Matrix(np.zeros((n, n)), np.zeros((n, n)), np.full(n, np.nan), [])
    with bar("basins: barrier matrix", total=n * (n - 1) // 2, info="") as pb:
        for k, (i, j) in enumerate(itertools.combinations(range(n), 2)):
            a, b = chosen[i], chosen[j]
            cka, ckb = a.checkpoint(steps[i]), b.checkpoint(steps[j])
            plain = cache.losses(a, cka, b, ckb)
            losses = cache.losses(a, cka, b, ckb, align=method) if align[k] else plain
            br, br0 = loss_barrier(grid, losses), loss_barrier(grid, plain)
            m.barrier[i, j] = m.barrier[j, i] = br.barrier
            m.frankle[i, j] = m.frankle[j, i] = br.frankle
            m.loss[i], m.loss[j] = plain[0], plain[-1]
            m.rows.append({"run_a": a.id, "run_b": b.id, "step_a": steps[i], "step_b": steps[j],
                           "loss_a": plain[0], "loss_b": plain[-1], "barrier": br.barrier,
                           "barrier_frankle": br.frankle, "alpha_max": br.alpha,
                           "aligned": bool(align[k]), "barrier_unaligned": br0.barrier})
            pb.advance(1, info=f"{a.id} vs {b.id}: {br.barrier:.3g}")
    return m


def _pairs_to_align(chosen: list[Run], suite: Suite, mode: str) -> list[bool]:
    inits = [init_of(r, suite) for r in chosen]
    return [mode == "always" or (mode == "auto" and inits[i] != inits[j])
            for i, j in itertools.combinations(range(len(chosen)), 2)]


def _behaviour_clusters(ds, chosen: list[Run], steps: list[int], basin: np.ndarray) -> Behaviour:
    beh, probes, why = _behaviour(ds, chosen, steps)
    if beh is None:
        return Behaviour(np.full(len(chosen), -1), None, probes, why, False)
    n_basins = int(basin.max())
    diff = beh[:, None, :] - beh[None, :, :]
    cl, order = cluster(np.sqrt((diff ** 2).sum(-1)), t=n_basins, criterion="maxclust")
    cl = relabel(cl, order)
    if n_basins > 1:
        return Behaviour(cl, float(adjusted_rand_score(basin, cl)), probes, why, True)
    return Behaviour(cl, None, probes,
                      "with a single basin there is no split to compare with behaviour", True)


def basins(suite: Suite | str | Path, store=None, options: BasinsOptions | None = None, *,
           cache_dir: str | Path | None = None, **overrides) -> AnalysisResult:
    """Basins of Juneja et al. (ICLR 2023, arXiv 2205.12411) and their behavioural match.

    The Entezari loss barrier between every two of the chosen runs (``runs``:
    ids or glob patterns; default all, at most ``max_runs`` evenly spread) at one
    ``step`` (default: the last step all have; if none is shared, each run's last
    checkpoint, said in the verdict). The barrier matrix is clustered with scipy's
    average linkage, barrier as the distance, cut at ``threshold`` nats (default
    ``rel_threshold`` = 2% of the runs' mean loss): runs in one basin are linearly
    connected on average, runs in different basins are separated by a barrier.

    Behavioural clusters: the runs' ``behavior`` vectors (probe accuracies) from
    the store at the same steps, clustered with average linkage on Euclidean
    distance and cut into the same number of groups as there are basins (so the
    two partitions have equal granularity and no second threshold is needed);
    the adjusted Rand index (sklearn) compares them. With a single basin, or
    without behaviour in the store, the ARI is left out and the verdict says why.
    Options: :class:`~pathdep.lmc.options.BasinsOptions`; loss paths are cached in
    ``cache_dir``.
    """
    o = inputs.options(BasinsOptions, options, overrides)  # a missing device fails here
    suite = inputs.as_suite(suite)
    chosen, capped = _choose_runs(suite, o.runs, o.max_runs)
    chosen, left_out = _one_architecture(chosen)
    if left_out:
        log.warning("basins:%s", left_out_text(left_out))
    if len(chosen) < 2:
        raise Skip(f"basins need at least 2 runs with checkpoints; suite {suite.name!r} has "
                   f"{len(chosen)}" + (" of one architecture." + left_out_text(left_out)
                                       if left_out else ""))
    steps, shared = _choose_steps(chosen, o.step)
    inp = inputs.eval_inputs(suite, store, o.n_sequences)
    grid = inputs.alphas(o)
    cache = PathCache(inp.tokens, grid, batch_size=o.batch_size, cache_dir=cache_dir,
                      device=o.device, dtype=o.dtype)
    m = _matrix(chosen, steps, grid, cache, _pairs_to_align(chosen, suite, o.align),
                o.align_method)
    thr = inputs.threshold(o, m.loss)
    basin, order = basins_of(m.barrier, thr)
    b = Basins([r.id for r in chosen], len(suite.runs), steps, shared, capped, m, basin, order,
               thr, _behaviour_clusters(inp.ds, chosen, steps, basin), left_out,
               [init_of(r, suite) for r in chosen], o.align_method)
    res = result(b, o, grid, int(inp.tokens.shape[0]), inp.source)
    log.info("basins: %s", res.verdict)
    return res


def _applies(ctx: Context, o: BasinsOptions) -> str | None:
    n = len([r for r in ctx.suite.runs if r.checkpoints])
    if o.runs or n >= 3:
        return None
    return (f"basins compare 3 or more runs (or the runs you choose); the suite has {n} with "
            "checkpoints")


def _run(ctx: Context, o: BasinsOptions) -> AnalysisResult:
    return basins(ctx.suite, inputs.shared(ctx, o.n_sequences), o,
                  cache_dir=ctx.cache_dir(CACHE_NAME))


SIMULATION = Simulation(
    null=lambda n, seed: barrier_matrix(n, seed, planted=False),
    planted=lambda n, seed: barrier_matrix(n, seed, planted=True),
    claims=lambda res: res.summary["n_basins"] > 1,
    effect=("half the runs behind a barrier of 0.06 nats (twice the default threshold) from "
            "the other half"),
    run=lambda mat, o: from_matrix(*mat, o),
    size=lambda res: int(res.summary["n_runs"]))  # runs compared (max_runs, one architecture)

ANALYSIS = Analysis(
    BASINS,
    "C/D: do runs lie in linearly connected basins, and do the basins match behavioural "
    "clusters?",
    label="C/D", section="clusters", run=_run, options=BasinsOptions,
    inputs=CheckpointInputs("one checkpoint of every chosen run (3+ runs)", _applies),
    simulation=SIMULATION, command="barriers")
