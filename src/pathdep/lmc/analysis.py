"""Instability analysis and basins from loss barriers between checkpoints (methods.md §5).

    from pathdep.lmc import lmc, instability, basins
    lmc("runs/branching")                      # both, saved to <store>.analysis/{instability,basins}
    instability(suite, "runs/branching/measurements.zarr", cache_dir="/tmp/lmc")

- :func:`instability` is the instability analysis of Frankle et al. (ICML 2020,
  arXiv 1912.05671): copies of a network branched from step k and trained on
  with different data orders; the loss barrier between their ends, as a function
  of k, tells from which step on training ends in one linearly connected basin.
- :func:`basins` follows Juneja et al. (ICLR 2023, arXiv 2205.12411): the barrier
  matrix over runs, clustered into basins (linearly connected within, separated
  by barriers between), compared with behavioural clusters of the same runs.

Barriers are the general loss barrier of Entezari et al. (2022) computed by
:mod:`pathdep.lmc.barrier` on the store's evaluation tokens (a subset of
``n_sequences`` sequences, for speed). Each pair's loss path is cached in a JSON
file under ``<out>/.lmc_cache/`` so a rerun only loads models for new pairs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pathdep.analysis.bootstrap import N_BOOT, mean_over_runs
from pathdep.analysis.data import Skip
from pathdep.analysis.result import AnalysisResult, Interval, _fmt
from pathdep.errors import PathdepError
from pathdep.lmc.barrier import alpha_grid, check_alphas, interpolation_losses, loss_barrier
from pathdep.suites import Checkpoint, Run, Suite, load_model, load_suite

log = logging.getLogger(__name__)

INSTABILITY, BASINS = "instability", "basins"
CACHE_DIR = ".lmc_cache"  # under the analysis folder; the report skips dot folders
STORE_NAME = "measurements.zarr"
REL_THRESHOLD = 0.02  # Frankle et al.'s 2% error threshold, adapted to loss (see instability)
N_SEQUENCES = 16


# --------------------------------------------------------------------------- inputs


def _as_suite(suite: Suite | str | Path) -> Suite:
    return suite if isinstance(suite, Suite) else load_suite(suite)


def default_store(suite: Suite) -> Path:
    """``<suite folder>/measurements.zarr`` (PathdepError for a suite without a folder)."""
    if not suite.root:
        raise PathdepError(f"suite {suite.name!r} has no folder, so it has no default store; "
                           "pass the measurement store (--store STORE)")
    return Path(suite.root) / STORE_NAME


def _split_tokens(suite: Suite, n_sequences: int | None, where: Path) -> np.ndarray:
    """Evaluation tokens from the suite's own held-out split (suites trained by pathdep)."""
    spec = suite.meta.get("spec") or {}
    context = (spec.get("model") or {}).get("context")
    if not spec or not context:
        raise PathdepError(
            f"no measurement store at {where}, and suite {suite.name!r} has no spec to draw "
            "evaluation tokens from; measure it first (`pathdep measure SUITE`) or pass --store")
    from pathdep.measure.evalset import build_evalset

    try:
        es = build_evalset(suite, None, context=int(context), n_seq=n_sequences or N_SEQUENCES)
    except PathdepError as e:
        raise PathdepError(f"no measurement store at {where}, and the suite's own evaluation "
                           f"split cannot be read ({e}); measure the suite first or pass --store"
                           ) from e
    log.info("no store at %s: using %d sequences of the suite's evaluation split", where,
             len(es.tokens))
    return np.asarray(es.tokens)


@dataclass
class _Inputs:
    """Evaluation tokens (subset), the store (if any) and where the tokens came from."""

    tokens: np.ndarray
    ds: Any
    source: str


def _inputs(suite: Suite, store, n_sequences: int | None) -> _Inputs:
    """``store`` may be a path, an opened store (xarray.Dataset), a token array, or None.

    (Or ready _Inputs: ``lmc`` reads the suite's evaluation split once for both analyses.)
    """
    import xarray as xr

    ds = None
    if isinstance(store, _Inputs):
        return store
    if isinstance(store, np.ndarray):
        tokens, source = store, "given tokens"
    elif isinstance(store, xr.Dataset):
        ds, source = store, "store"
    else:
        path = Path(store) if store is not None else default_store(suite)
        if path.exists():
            from pathdep.store import open_store

            ds, source = open_store(path), str(path)
        elif store is None:
            tokens, source = _split_tokens(suite, n_sequences, path), "suite eval split"
        else:
            raise PathdepError(f"no measurement store at {path}: pass the folder that "
                               "`pathdep measure` wrote")
    if n_sequences is not None and int(n_sequences) < 1:
        raise PathdepError(f"n_sequences must be >= 1, not {n_sequences}")
    keep = slice(None) if n_sequences is None else slice(0, int(n_sequences))
    if ds is not None:
        if "tokens" not in ds.variables:
            raise PathdepError(f"the store {source} has no evaluation tokens (`tokens`); "
                               "is it a pathdep measurement store?")
        tokens = np.asarray(ds["tokens"].transpose("seq", "pos").isel(seq=keep).values)
    tokens = np.asarray(tokens)[keep]
    return _Inputs(tokens, ds, source)


def token_hash(tokens: np.ndarray) -> str:
    """sha256 over the shape and int32 bytes (the store's ``eval_hash`` rule)."""
    from pathdep.measure.evalset import token_hash as th

    return th(tokens)


# --------------------------------------------------------------------------- loss paths


def _stamp(ck: Checkpoint) -> list:
    """What identifies a checkpoint's weights in the cache key: location, step, file time."""
    mtime = None
    if ck.path:
        f = Path(ck.path) / "model.safetensors"
        mtime = f.stat().st_mtime_ns if f.is_file() else None
    return [ck.location, ck.step, mtime]


class PathCache:
    """Loss paths between checkpoints, computed once and cached as JSON under ``cache_dir``."""

    def __init__(self, tokens: np.ndarray, alphas: np.ndarray, *, batch_size: int = 8,
                 cache_dir: str | Path | None = None, device: str = "cpu", max_models: int = 2):
        self.tokens, self.alphas = tokens, alphas
        self.batch_size, self.device = batch_size, device
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.hash = token_hash(tokens)
        self._models: OrderedDict[str, Any] = OrderedDict()
        self.max_models = max_models
        self.computed = 0  # paths computed (not read from the cache)

    def _model(self, run: Run, ck: Checkpoint):
        key = ck.location
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        model = load_model(run, ck)
        self._models[key] = model
        while len(self._models) > self.max_models:
            self._models.popitem(last=False)
        return model

    def _key(self, ck_a: Checkpoint, ck_b: Checkpoint) -> tuple[str, dict]:
        desc = {"a": _stamp(ck_a), "b": _stamp(ck_b),
                "alphas": [round(float(a), 12) for a in self.alphas], "tokens": self.hash}
        return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest(), desc

    def losses(self, run_a: Run, ck_a: Checkpoint, run_b: Run, ck_b: Checkpoint) -> np.ndarray:
        """L(α) on the α grid for θ(α) = (1−α)·θ(run_a@ck_a) + α·θ(run_b@ck_b)."""
        key, desc = self._key(ck_a, ck_b)
        file = self.cache_dir / f"{key[:32]}.json" if self.cache_dir is not None else None
        if file is not None and file.is_file():
            try:
                got = json.loads(file.read_text())
                if got.get("key") == key and len(got["losses"]) == len(self.alphas):
                    return np.asarray(got["losses"], dtype=np.float64)
            except (OSError, ValueError, KeyError):
                log.warning("ignoring unreadable cache file %s", file)
        names = (f"{run_a.id}@{ck_a.step}", f"{run_b.id}@{ck_b.step}")
        losses = interpolation_losses(self._model(run_a, ck_a), self._model(run_b, ck_b),
                                      self.tokens, self.alphas, batch_size=self.batch_size,
                                      device=self.device, names=names)
        self.computed += 1
        if file is not None:
            from pathdep.atomic import write_json

            write_json(file, {"key": key, **desc, "runs": list(names),
                              "losses": [float(x) for x in losses]})
        return losses


def _threshold(threshold: float | None, rel_threshold: float, endpoint_losses) -> float:
    if threshold is not None:
        if not threshold > 0:
            raise PathdepError(f"threshold must be a positive loss difference (nats), "
                               f"not {threshold}")
        return float(threshold)
    if not 0 < rel_threshold < 1:
        raise PathdepError(f"rel_threshold must be a fraction in (0, 1) such as 0.02, "
                           f"not {rel_threshold}")
    return float(rel_threshold * np.mean(endpoint_losses))


def _alphas(alphas, n_alphas: int) -> np.ndarray:
    return check_alphas(alphas) if alphas is not None else alpha_grid(n_alphas)


# --------------------------------------------------------------------------- instability


def _is_branch(run: Run) -> bool:
    return run.factors.get("parent") not in (None, "")


def _norm(v):
    return "" if v is None else v


def branch_pairs(suite: Suite) -> list[tuple[Run, Run, int]]:
    """Pairs of branch runs with the same parent and branch step that differ only in data_seed.

    Returns (run_a, run_b, last common step); pairs without a common checkpoint
    are left out (with a warning).
    """
    groups: dict[tuple, list[Run]] = {}
    for r in suite.runs:
        if _is_branch(r):
            key = (str(r.factors["parent"]), int(r.factors.get("branch_step", -1)))
            groups.setdefault(key, []).append(r)
    out = []
    for (_, _k), rs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        for a, b in itertools.combinations(rs, 2):
            names = (set(a.factors) | set(b.factors)) - {"data_seed"}
            if _norm(a.factors.get("data_seed")) == _norm(b.factors.get("data_seed")):
                continue
            if any(_norm(a.factors.get(n)) != _norm(b.factors.get(n)) for n in names):
                continue
            common = set(a.steps) & set(b.steps)
            if not common:
                log.warning("branch runs %s and %s share no checkpoint step; left out", a.id, b.id)
                continue
            out.append((a, b, max(common)))
    return out


def _instability_figures(pairs: pd.DataFrame, by_step: pd.DataFrame, paths: pd.DataFrame,
                         thr: float) -> dict:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=pairs["branch_step"], y=pairs["barrier"], mode="markers", name="pair",
        marker={"size": 7, "opacity": 0.6},
        text=[f"{a} vs {b} (step {s})" for a, b, s in
              zip(pairs["run_a"], pairs["run_b"], pairs["step"], strict=True)]))
    fig.add_trace(go.Scatter(
        x=by_step["branch_step"], y=by_step["mean_barrier"], mode="lines+markers",
        name="mean (95% interval)",
        error_y={"type": "data", "symmetric": False,
                 "array": (by_step["high"] - by_step["mean_barrier"]).clip(lower=0).fillna(0),
                 "arrayminus": (by_step["mean_barrier"] - by_step["low"]).clip(lower=0).fillna(0)}))
    fig.add_hline(y=thr, line_dash="dot", annotation_text=f"threshold {thr:.3g} nats")
    fig.update_layout(title="Loss barrier between branches vs the step they branched at",
                      xaxis_title="branch step k", yaxis_title="loss barrier (nats)")
    path_fig = go.Figure()
    for (pid, label), g in paths.groupby(["pair", "label"], sort=False):
        path_fig.add_trace(go.Scatter(x=g["alpha"], y=g["loss"], mode="lines+markers",
                                      name=label, legendgroup=str(pid)))
    path_fig.update_layout(title="Evaluation loss along the line between branch ends",
                           xaxis_title="α  (θ = (1−α)·θa + α·θb)", yaxis_title="loss (nats)")
    return {"barrier_vs_branch_step": fig, "loss_along_alpha": path_fig}


def _steps_text(ks) -> str:
    """"step 0" or "steps 0-100"."""
    ks = [int(k) for k in ks]
    return f"step {ks[0]}" if len(ks) == 1 else f"steps {ks[0]}-{ks[-1]}"


def _pairs_text(n: int) -> str:
    return f"{n} pair" + ("" if n == 1 else "s")


def _instability_verdict(by_step: pd.DataFrame, stable_k, thr: float, unstable: Interval | None,
                         n_unstable: int) -> str:
    ks = by_step["branch_step"].tolist()
    if stable_k is None:
        lo = by_step.loc[by_step["mean_barrier"].idxmin()]
        return (f"Branches from no tested step ({_steps_text(ks)}) end in one linearly "
                f"connected basin: mean barrier {unstable} nats over {_pairs_text(n_unstable)}, "
                "with the step mean above the "
                f"{thr:.3g}-nat threshold even at the last step"
                f" (lowest step mean {_fmt(lo['mean_barrier'])} at step {int(lo['branch_step'])}).")
    after = by_step[by_step["branch_step"] >= stable_k]
    head = (f"Branches from step >= {int(stable_k)} end in one linearly connected basin "
            f"(mean barrier < {thr:.3g} nats at every such step, at most "
            f"{_fmt(after['mean_barrier'].max())})")
    before = [k for k in ks if k < stable_k]
    if not before:
        return head + f"; this holds from the first tested step, {int(ks[0])}."
    return head + (f"; from {_steps_text(before)} they do not (mean barrier {unstable} nats over "
                   f"{_pairs_text(n_unstable)}).")


def instability(suite: Suite | str | Path, store=None, *, n_sequences: int | None = N_SEQUENCES,
                n_alphas: int = 11, alphas=None, threshold: float | None = None,
                rel_threshold: float = REL_THRESHOLD, batch_size: int = 8,
                n_boot: int = N_BOOT, seed: int = 0, cache_dir: str | Path | None = None,
                device: str = "cpu") -> AnalysisResult:
    """Frankle et al.'s instability analysis (ICML 2020, arXiv 1912.05671) on branch runs.

    Branch runs (factor ``parent`` set) are grouped by (parent, branch_step);
    in a group every pair that differs in ``data_seed`` and agrees on every other
    factor is compared at its last common checkpoint: the Entezari loss barrier
    (and Frankle's) along the straight line, on the first ``n_sequences``
    evaluation sequences of ``store`` (a path, an opened store, a token array, or
    None for ``<suite>/measurements.zarr``).

    Per branch step k: the mean barrier over pairs with a bootstrap interval over
    pairs (``n_boot`` replicates). The *stability step* is the first k from which
    the mean barrier of every k' ≥ k is below ``threshold`` nats (default
    ``rel_threshold`` = 2% of the mean endpoint loss). Frankle et al. call a
    network stable when the *error* barrier is below 2%; the loss-based threshold
    is our adaptation of that operational rule, not theirs.

    Raises Skip when the suite has no branch pairs.
    """
    suite = _as_suite(suite)
    pairs = branch_pairs(suite)
    if not pairs:
        raise Skip(f"suite {suite.name!r} has no pair of branch runs from the same parent and "
                   "step that differ only in data_seed; spawn them with branching "
                   "(several data seeds per branch step)")
    inp = _inputs(suite, store, n_sequences)
    grid = _alphas(alphas, n_alphas)
    cache = PathCache(inp.tokens, grid, batch_size=batch_size, cache_dir=cache_dir, device=device)
    from pathdep.progress import bar

    rows, path_rows = [], []
    with bar("instability: barriers", total=len(pairs), info="") as pb:
        for i, (a, b, step) in enumerate(pairs):
            losses = cache.losses(a, a.checkpoint(step), b, b.checkpoint(step))
            br = loss_barrier(grid, losses)
            k = int(a.factors.get("branch_step", -1))
            rows.append({"parent": str(a.factors["parent"]), "branch_step": k, "run_a": a.id,
                         "run_b": b.id, "step": step, "loss_a": losses[0], "loss_b": losses[-1],
                         "barrier": br.barrier, "barrier_frankle": br.frankle,
                         "alpha_max": br.alpha})
            label = f"k={k}: {a.id} vs {b.id}"
            path_rows += [{"pair": i, "label": label, "branch_step": k, "alpha": float(x),
                           "loss": float(v)} for x, v in zip(grid, losses, strict=True)]
            pb.advance(1, info=f"k={k} barrier {br.barrier:.3g}")
    df = pd.DataFrame(rows)
    paths = pd.DataFrame(path_rows)
    thr = _threshold(threshold, rel_threshold, np.r_[df["loss_a"], df["loss_b"]])
    steps_rows, intervals = [], {}
    for j, (k, g) in enumerate(df.groupby("branch_step", sort=True)):
        iv = mean_over_runs(g["barrier"].to_numpy(), n_boot=n_boot, seed=seed + j)
        intervals[str(int(k))] = iv
        steps_rows.append({"branch_step": int(k), "n_pairs": len(g), "mean_barrier": iv.value,
                           "low": iv.low, "high": iv.high,
                           "mean_barrier_frankle": float(g["barrier_frankle"].mean()),
                           "stable": bool(iv.value < thr)})
    by_step = pd.DataFrame(steps_rows)
    stable = by_step["stable"].to_numpy()
    stable_k = None
    for i in range(len(by_step)):
        if stable[i:].all():
            stable_k = int(by_step["branch_step"].iloc[i])
            break
    unstable_pairs = df if stable_k is None else df[df["branch_step"] < stable_k]
    unstable = (mean_over_runs(unstable_pairs["barrier"].to_numpy(), n_boot=n_boot, seed=seed)
                if len(unstable_pairs) else None)
    verdict = _instability_verdict(by_step, stable_k, thr, unstable, len(unstable_pairs))
    summary = {"stability_step": stable_k, "threshold": thr, "rel_threshold": rel_threshold,
               "threshold_given": threshold is not None,
               "mean_endpoint_loss": float(np.mean(np.r_[df["loss_a"], df["loss_b"]])),
               "mean_barrier_by_step": intervals, "mean_barrier_unstable": unstable,
               "n_pairs": len(df), "branch_steps": by_step["branch_step"].tolist(),
               "alphas": [round(float(x), 6) for x in grid],
               "n_sequences": int(inp.tokens.shape[0]), "tokens": inp.source, "barrier": "Entezari et al. 2022 (max over α of L(α) minus "
               "the straight line between the endpoint losses)"}
    log.info("instability: %s", verdict)
    return AnalysisResult(INSTABILITY, "F (instability)", verdict, summary,
                          tables={"pairs": df, "by_step": by_step, "paths": paths},
                          figures=_instability_figures(df, by_step, paths, thr))


# --------------------------------------------------------------------------- basins


def _choose_runs(suite: Suite, runs, max_runs: int) -> tuple[list[Run], bool]:
    if runs:
        import fnmatch

        chosen = [r for r in suite.runs
                  if any(fnmatch.fnmatchcase(r.id, str(p)) for p in runs)]
        if not chosen:
            raise PathdepError(f"no run of suite {suite.name!r} matches {list(runs)}; its runs "
                               f"are: {', '.join(suite.run_ids[:20])}")
    else:
        chosen = [r for r in suite.runs if r.checkpoints]
    if max_runs < 2:
        raise PathdepError(f"max_runs must be at least 2, not {max_runs}")
    capped = len(chosen) > max_runs
    if capped:
        idx = np.unique(np.round(np.linspace(0, len(chosen) - 1, max_runs)).astype(int))
        log.warning("basins: %d runs; using %d evenly spread over the suite (raise max_runs for "
                    "more; the cost grows with the square)", len(chosen), len(idx))
        chosen = [chosen[i] for i in idx]
    return chosen, capped


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


def _cluster(dist: np.ndarray, *, t: float, criterion: str) -> tuple[np.ndarray, np.ndarray]:
    """Average-linkage clusters of a distance matrix: (labels 1.., leaf order)."""
    from scipy.cluster.hierarchy import fcluster, leaves_list, linkage
    from scipy.spatial.distance import squareform

    d = np.maximum((dist + dist.T) / 2, 0)
    np.fill_diagonal(d, 0)
    z = linkage(squareform(d, checks=False), method="average")
    return fcluster(z, t=t, criterion=criterion), leaves_list(z)


def _relabel(labels: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Number clusters 1, 2, … in the order they first appear along ``order``."""
    new, out = {}, np.empty_like(labels)
    for i in order:
        new.setdefault(labels[i], len(new) + 1)
    for i, lab in enumerate(labels):
        out[i] = new[lab]
    return out


def _heatmap(matrix: np.ndarray, ids: list[str], order: np.ndarray, basin: np.ndarray,
             title: str):
    import plotly.graph_objects as go

    labels = [f"{ids[i]} (basin {basin[i]})" for i in order]
    m = matrix[np.ix_(order, order)]
    fig = go.Figure(go.Heatmap(z=m, x=labels, y=labels, colorscale="Viridis",
                               colorbar={"title": "barrier (nats)"}))
    fig.update_layout(title=title, yaxis={"autorange": "reversed"})
    return fig


def basins(suite: Suite | str | Path, store=None, runs: list[str] | None = None,
           step: int | None = None, max_runs: int = 16, *,
           n_sequences: int | None = N_SEQUENCES, n_alphas: int = 11, alphas=None,
           threshold: float | None = None, rel_threshold: float = REL_THRESHOLD,
           batch_size: int = 8, cache_dir: str | Path | None = None,
           device: str = "cpu") -> AnalysisResult:
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
    """
    from sklearn.metrics import adjusted_rand_score

    suite = _as_suite(suite)
    chosen, capped = _choose_runs(suite, runs, max_runs)
    if len(chosen) < 2:
        raise Skip(f"basins need at least 2 runs with checkpoints; suite {suite.name!r} has "
                   f"{len(chosen)}")
    steps, shared = _choose_steps(chosen, step)
    inp = _inputs(suite, store, n_sequences)
    grid = _alphas(alphas, n_alphas)
    cache = PathCache(inp.tokens, grid, batch_size=batch_size, cache_dir=cache_dir, device=device)
    n = len(chosen)
    mat, frk = np.zeros((n, n)), np.zeros((n, n))
    own = np.full(n, np.nan)
    rows = []
    from pathdep.progress import bar

    with bar("basins: barrier matrix", total=n * (n - 1) // 2, info="") as pb:
        for i, j in itertools.combinations(range(n), 2):
            a, b = chosen[i], chosen[j]
            ca, cb = a.checkpoint(steps[i]), b.checkpoint(steps[j])
            losses = cache.losses(a, ca, b, cb)
            br = loss_barrier(grid, losses)
            mat[i, j] = mat[j, i] = br.barrier
            frk[i, j] = frk[j, i] = br.frankle
            own[i], own[j] = losses[0], losses[-1]
            rows.append({"run_a": a.id, "run_b": b.id, "step_a": steps[i], "step_b": steps[j],
                         "loss_a": losses[0], "loss_b": losses[-1], "barrier": br.barrier,
                         "barrier_frankle": br.frankle, "alpha_max": br.alpha})
            pb.advance(1, info=f"{a.id} vs {b.id}: {br.barrier:.3g}")
    thr = _threshold(threshold, rel_threshold, own)
    basin, order = _cluster(mat, t=thr, criterion="distance")
    basin = _relabel(basin, order)
    n_basins = int(basin.max())
    ids = [r.id for r in chosen]

    beh, probes, why = _behaviour(inp.ds, chosen, steps)
    beh_cl = np.full(n, -1)
    ari = None
    if beh is not None:
        diff = beh[:, None, :] - beh[None, :, :]
        bdist = np.sqrt((diff ** 2).sum(-1))
        beh_cl, b_order = _cluster(bdist, t=n_basins, criterion="maxclust")
        beh_cl = _relabel(beh_cl, b_order)
        if n_basins > 1:
            ari = float(adjusted_rand_score(basin, beh_cl))
        else:
            why = "with a single basin there is no split to compare with behaviour"
    same = basin[:, None] == basin[None, :]
    off = ~np.eye(n, dtype=bool)
    within = mat[same & off]
    between = mat[~same]
    sizes = np.bincount(basin)[1:].tolist()
    where = (f"at step {steps[0]}" if shared else
             "at each run's last checkpoint (no step is shared by all runs)")
    chosen_txt = f"the {n} runs" + (f" (of {len(suite.runs)}, evenly spread)" if capped else "")
    if n_basins == 1:
        verdict = (f"{where[0].upper() + where[1:]}, {chosen_txt} lie in one linearly connected "
                   f"basin (average-linkage cut at a barrier of {thr:.3g} nats; largest pairwise "
                   f"barrier {_fmt(mat.max())} nats)")
    else:
        verdict = (f"{where[0].upper() + where[1:]}, {chosen_txt} form {n_basins} linearly "
                   f"connected basins of sizes {', '.join(map(str, sizes))} (average-linkage "
                   f"cut at a barrier of {thr:.3g} nats): mean barrier "
                   f"{_fmt(within.mean()) if within.size else 'n/a'} nats within basins and "
                   f"{_fmt(between.mean())} nats between them")
    if ari is not None:
        verdict += (f"; behavioural clusters of the same runs ({len(probes)} probes, cut into "
                    f"{n_basins} groups) match the basins with adjusted Rand index {ari:.2f}.")
    else:
        verdict += f"; {why}, so basins are not compared with behavioural clusters."
    seeds = [r.factors.get("seed") for r in chosen]
    mixed = any(len({seeds[i] for i in np.flatnonzero(basin == b)}) > 1 for b in set(basin))
    if len(set(seeds)) > 1 and not mixed:
        verdict += (" No basin holds two init seeds: runs from different initialisations are "
                    "compared without permutation alignment (weight matching, Ainsworth et al. "
                    "2023), so here only runs that share an init can share a basin.")
    table = pd.DataFrame({"run": ids, "step": steps, "loss": own, "basin": basin,
                          "behavior_cluster": beh_cl})
    matrix = pd.DataFrame(mat, columns=ids)
    matrix.insert(0, "run", ids)
    summary = {"n_runs": n, "n_basins": n_basins, "basin_sizes": sizes, "threshold": thr,
               "rel_threshold": rel_threshold, "threshold_given": threshold is not None,
               "step": steps[0] if shared else None, "shared_step": shared,
               "mean_barrier_within": float(within.mean()) if within.size else None,
               "mean_barrier_between": float(between.mean()) if between.size else None,
               "max_barrier": float(mat.max()), "ari": ari,
               "behavior": ({"probes": probes, "cut": "same number of groups as basins"}
                            if beh is not None else None),
               "no_ari_reason": why if ari is None else "", "capped": capped,
               "alphas": [round(float(x), 6) for x in grid],
               "n_sequences": int(inp.tokens.shape[0]), "tokens": inp.source}
    title = ("Loss barriers between runs, ordered by basin"
             + (f" (step {steps[0]})" if shared else " (last checkpoints)"))
    log.info("basins: %s", verdict)
    return AnalysisResult(BASINS, "C/D (basins)", verdict, summary,
                          tables={"assignments": table, "pairs": pd.DataFrame(rows),
                                  "matrix": matrix},
                          figures={"barrier_matrix": _heatmap(mat, ids, order, basin, title)})


# --------------------------------------------------------------------------- both


_COMMON = ("n_sequences", "n_alphas", "alphas", "threshold", "rel_threshold", "batch_size",
           "device")
_INSTABILITY_ONLY = ("n_boot", "seed")
_BASINS_ONLY = ("runs", "step", "max_runs")


def lmc(suite: Suite | str | Path, store=None, out: str | Path | None = None, **options
        ) -> dict[str, AnalysisResult]:
    """Run :func:`instability` (when there are branch pairs) and :func:`basins` (>= 3 runs).

    ``store`` defaults to ``<suite folder>/measurements.zarr`` (its evaluation
    tokens and behaviour); without a store the suite's own evaluation split is
    used when the suite was trained by pathdep (no behaviour then). Each result
    is saved to ``out/<name>`` (``out`` defaults to ``<store>.analysis``, where
    the report reads analyses), and every loss path is cached under
    ``out/.lmc_cache`` so a rerun is cheap. ``options``: n_sequences (16),
    n_alphas (11), alphas, threshold, rel_threshold (0.02), batch_size, device,
    n_boot, seed (instability), runs, step, max_runs (basins).
    """
    import xarray as xr

    unknown = set(options) - set(_COMMON) - set(_INSTABILITY_ONLY) - set(_BASINS_ONLY)
    if unknown:
        raise PathdepError(f"unknown lmc option(s) {sorted(unknown)}; choose from "
                           f"{sorted(_COMMON + _INSTABILITY_ONLY + _BASINS_ONLY)}")
    suite = _as_suite(suite)
    if out is None:
        if isinstance(store, (xr.Dataset, np.ndarray)):
            raise PathdepError("give out= (the analysis folder) when the store is passed as an "
                               "opened dataset or a token array")
        out = Path(f"{Path(store) if store is not None else default_store(suite)}.analysis")
    out = Path(out)
    common = {k: v for k, v in options.items() if k in _COMMON}
    common["cache_dir"] = out / CACHE_DIR
    has_pairs = bool(branch_pairs(suite))
    n_runs = len([r for r in suite.runs if r.checkpoints])
    do_basins = bool(options.get("runs")) or n_runs >= 3
    if not has_pairs:
        log.info("lmc: suite %s has no branch pairs; instability analysis skipped", suite.name)
    if not do_basins:
        log.info("lmc: suite %s has %d runs; basins need >= 3", suite.name, n_runs)
    if not (has_pairs or do_basins):
        return {}
    if store is None and not default_store(suite).exists():  # read the eval split once
        store = _Inputs(_split_tokens(suite, options.get("n_sequences", N_SEQUENCES),
                                      default_store(suite)), None, "suite eval split")
    results: dict[str, AnalysisResult] = {}
    if has_pairs:
        inst = {k: v for k, v in options.items() if k in _INSTABILITY_ONLY}
        results[INSTABILITY] = instability(suite, store, **common, **inst)
    if do_basins:
        bas = {k: v for k, v in options.items() if k in _BASINS_ONLY}
        results[BASINS] = basins(suite, store, **bas, **common)
    for name, res in results.items():
        res.save(out / name)
        log.info("lmc: %s saved to %s", name, out / name)
    return results
