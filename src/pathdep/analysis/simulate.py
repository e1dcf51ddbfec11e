"""Simulated measurement stores for calibrating verdicts (issue 14): no effect, or a known one.

Each analysis that states a verdict declares a :class:`~pathdep.analysis.contract.Simulation`
whose ``null`` and ``planted`` generators build stores with these helpers, at
a given number of runs and seed. The stores follow docs/store.md (the same
variables and coordinates the measurement writes), with noise at the size
seen on the demo suite, so the rate at which a verdict claims an effect on
null stores is its false-positive rate at that suite size, and the rate on
planted ones its power.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.special import expit

KINDS = ("previous_token", "duplicate_token", "induction", "copying")
# 50 token strings of every category analysis/tokens.py knows (id = frequency rank)
VOCAB = ("the", " cat", " sat", " on", " mat", ",", ".", "(", ")", "[", "]", "1", "2", "42",
         " Alice", " Bob", " Paris", "\n", " and", " of", " a", " to", " in", " is", " was",
         " dog", " ran", " big", " red", "!", "?", ";", " he", " she", " it", " we", " they",
         " house", " tree", " sun", " moon", " blue", " green", " 7", " 1999", " Zeta",
         "{", "}", " x", " y")


def log_steps(n_steps: int, last: int = 2000) -> np.ndarray:
    """Step 0 and ``n_steps - 1`` log-spaced steps from 1 to ``last`` (like 'log:N')."""
    s = np.unique(np.round(np.geomspace(1, last, n_steps - 1)).astype(np.int64))
    return np.r_[0, s]


def store(n_runs: int, steps: np.ndarray, factors: dict[str, list] | None = None,
          seed: int = 0) -> xr.Dataset:
    """A store of ``n_runs`` runs, every job done, with the bookkeeping variables only."""
    rng = np.random.default_rng(seed)
    runs = [f"run{i}" for i in range(n_runs)]
    coords: dict = {"run": runs, "step": np.asarray(steps)}
    for k, v in (factors or {"seed": list(range(n_runs))}).items():
        coords[f"factor_{k}"] = ("run", np.asarray(v))
    shape = (n_runs, len(steps))
    tokens = rng.integers(0, 50, (4, 16)).astype(np.int32)
    return xr.Dataset(
        {"tokens": (("seq", "pos"), tokens),
         "done": (("run", "step"), np.ones(shape, bool)),
         "tokens_seen": (("run", "step"), np.broadcast_to(np.asarray(steps) * 1024, shape).copy())},
        coords=coords, attrs={"suite": "simulated", "pathdep_version": "simulated",
                              "icl_early_pos": 2, "icl_late_pos": 15, "vocab_size": 50})


def with_behavior(ds: xr.Dataset, curves: dict[str, np.ndarray]) -> xr.Dataset:
    """``behavior`` (run, step, probe) from one (run, step) array per probe."""
    arr = np.stack([curves[p] for p in curves], -1).astype(np.float32)
    return ds.assign(behavior=(("run", "step", "probe"), arr)).assign_coords(probe=list(curves))


def learning(final: np.ndarray, n_steps: int, start: float = 0.1,
             mid: float | np.ndarray | None = None,
             noise: float = 0.02, rng: np.random.Generator | None = None) -> np.ndarray:
    """(run, step) curves rising from ``start`` to each run's ``final`` value (a logistic in the
    checkpoint index centred at ``mid``, one value or (run, 1)), plus measurement noise of sd
    ``noise``."""
    rng = rng or np.random.default_rng(0)
    t = np.arange(n_steps)
    prog = expit((t - (n_steps / 2 if mid is None else mid)) / 1.5)
    final = np.asarray(final, float)
    return start + (final[:, None] - start) * np.atleast_2d(prog) + rng.normal(0, noise,
                                                                       (len(final), n_steps))


def with_heads(ds: xr.Dataset, formation: np.ndarray, icl_jump: np.ndarray,
               rng: np.random.Generator, noise: float = 0.02) -> xr.Dataset:
    """Head scores (2 layers x 4 heads) and the ICL score of runs whose induction head forms at
    checkpoint index ``formation[run]`` (score 0.05 -> 0.8, copying 0.5) and whose ICL score
    falls from -0.05 to -0.4 nats at index ``icl_jump[run]`` (Olsson et al. 2022's shapes)."""
    n_runs, n_steps = ds.sizes["run"], ds.sizes["step"]
    t = np.arange(n_steps)
    hs = rng.uniform(0, 0.1, (n_runs, n_steps, 2, 4, len(KINDS)))
    icl = -0.05 + rng.normal(0, noise, (n_runs, n_steps))
    for r in range(n_runs):
        hs[r, :, 0, 1, 0] += 0.8 * expit((t - 1.5) / 0.2)  # a previous-token head from index 2
        hs[r, :, 1, 2, 2] += 0.75 * expit((t - formation[r] + 0.5) / 0.2)
        hs[r, :, 1, 2, 3] = 0.5
        icl[r] -= 0.35 * expit((t - icl_jump[r] + 0.5) / 0.2)
    hs += rng.normal(0, noise, hs.shape)
    ds = ds.assign(head_score=(("run", "step", "layer_h", "head", "kind"), hs.astype(np.float32)),
                   icl_score=(("run", "step"), icl.astype(np.float32)))
    return ds.assign_coords(kind=list(KINDS), layer_h=[0, 1], head=np.arange(4))


def with_logprob(ds: xr.Dataset, surprisal: np.ndarray) -> xr.Dataset:
    """``logprob`` (run, step, seq, pos) from surprisal (run, step, seq, pos - 1) in nats: pos 0
    has no prediction (NaN); the ``tokens`` are replaced by random ids of the new shape."""
    n_runs, n_steps, n_seq, n_pred = surprisal.shape
    lp = np.full((n_runs, n_steps, n_seq, n_pred + 1), np.nan, np.float32)
    lp[..., 1:] = -surprisal
    tokens = np.random.default_rng(n_seq * 7919 + n_pred).integers(
        0, int(ds.attrs.get("vocab_size", 50)), (n_seq, n_pred + 1)).astype(np.int32)
    return ds.assign(tokens=(("seq", "pos"), tokens),
                     logprob=(("run", "step", "seq", "pos"), lp))


def token_curves(kind: np.ndarray, x: np.ndarray, rng: np.random.Generator,
                 chance: float = np.log(50), relapse: float = 1.5) -> np.ndarray:
    """(token, step) surprisal curves against ``x`` = log10(step) of a kind per token: 0 flat (at
    a level drawn from 1-3 nats), 1 S-shaped (from ``chance`` down to 1-3 nats around a midpoint
    drawn in the middle decades), 2 a power law in step, 3 S-shaped then a rise of ``relapse``
    nats for about one decade (forgetting, Chang et al. 2024). No measurement noise."""
    n = len(kind)
    level, mid = rng.uniform(1, 3, n)[:, None], rng.uniform(1.2, 2.2, n)[:, None]
    s_shape = level + (chance - level) * expit((mid - x[None]) / 0.12)
    power = level + (chance - level) * np.power(10.0, x[None]) ** -rng.uniform(0.2, 1.0, (n, 1))
    bump = relapse * (expit((x[None] - mid - 0.4) / 0.06) - expit((x[None] - mid - 1.2) / 0.06))
    return np.select([kind[:, None] == k for k in range(4)],
                     [np.broadcast_to(level, s_shape.shape), s_shape, power, s_shape + bump])


def property_curves(n_runs: int, n_steps: int, spread: np.ndarray, timing: np.ndarray,
                    rng: np.random.Generator, noise: float = 0.02, split: np.ndarray | None = None,
                    late: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """One behaviour probe per entry of ``spread`` on ``log_steps(n_steps)``: final values
    normal across runs (mean 0.6, sd ``spread[p]``), shifted by ± ``split[p]`` sd into two
    equal groups, learnt along a logistic whose midpoint is checkpoint ``n_steps / 2`` plus a
    per-run shift of sd ``timing[p]`` checkpoints; from half of the last step on, each run
    drifts to a final value ``late[p]`` sd away (normal), so the value at 50 % of training
    predicts less; checkpoint noise of sd ``noise``."""
    k = len(spread)
    split = np.zeros(k) if split is None else split
    late = np.zeros(k) if late is None else late
    st = log_steps(n_steps)
    ramp = np.clip(st / st[-1] * 2 - 1, 0, 1)
    out = {}
    for p in range(k):
        final = 0.6 + spread[p] * (rng.normal(0, 1, n_runs)
                                   + split[p] * rng.permutation(np.arange(n_runs) % 2 * 2 - 1))
        v = learning(final, n_steps, noise=noise, rng=rng,
                     mid=n_steps / 2 + rng.normal(0, timing[p], n_runs)[:, None])
        out[f"p{p}"] = v + late[p] * spread[p] * rng.normal(0, 1, (n_runs, 1)) * ramp
    return out


def with_text(ds: xr.Dataset, n_seq: int, n_pos: int, rng: np.random.Generator) -> xr.Dataset:
    """``tokens`` and ``token_str`` of ``n_seq`` sequences of ``n_pos`` tokens drawn from
    :data:`VOCAB` with Zipf frequencies (p ∝ 1 / rank)."""
    p = 1 / np.arange(1, len(VOCAB) + 1)
    ids = rng.choice(len(VOCAB), size=(n_seq, n_pos), p=p / p.sum()).astype(np.int32)
    return ds.assign(tokens=(("seq", "pos"), ids),
                     token_str=(("seq", "pos"), np.array(VOCAB, dtype=object)[ids]))


def with_fact_items(ds: xr.Dataset, n_rare: int = 40, n_freq: int = 10, n_canary: int = 6,
                    tau: float | None = 200.0, p_freq: float = 0.9, seed: int = 0,
                    spread: float = 0.0) -> xr.Dataset:
    """Fact and canary probe items (``probe_item_correct``/``_margin``) and the ``seen`` attribute
    (the store schema of analyze/fact_timing.py).

    In every run (its own data order) rare fact i is seen 1–3 times at uniform random steps; the
    first half of the canaries is injected in the first tenth of training, the rest never. Recall
    at a step: with ``tau``, 0.1 + 0.8·exp(−(steps since the latest sighting)/tau), 0.1 before
    any (late-seen facts recalled, early-seen ones forgotten); with ``tau=None``, no dependence:
    0.5, or with ``spread`` > 0 each fact's own rate, uniform on 0.5 ± ``spread`` (facts differ
    in difficulty). Frequent facts: ``p_freq``. Rare facts 0 and 1 have two items (two eval docs).
    """
    import json

    rng = np.random.default_rng(seed + 8)
    steps = ds["step"].values.astype(np.int64)
    T = int(steps.max())
    runs = [str(r) for r in ds["run"].values]
    items = ([("fact_rare", f"fact:e{i}:city@doc{d}", f"fact:e{i}:city")
              for i in range(n_rare) for d in range(2 if i < 2 else 1)]
             + [("fact_frequent", f"fact:f{i}:city@doc{50 + i}", None) for i in range(n_freq)]
             + [("canary_early" if i < n_canary // 2 else "canary_none", f"canary:{i}",
                 f"canary:{i}") for i in range(n_canary)])
    seen = {}
    for r in runs:
        d = {f"fact:e{i}:city": sorted(set(rng.integers(1, T + 1, rng.integers(1, 4)).tolist()))
             for i in range(n_rare)}
        d |= {f"canary:{i}": sorted(set(rng.integers(1, max(2, T // 10), 2).tolist()))
              for i in range(n_canary // 2)}
        seen[r] = d
    n_runs, n_steps = ds.sizes["run"], ds.sizes["step"]
    own = {key: 0.5 + rng.uniform(-spread, spread) for _, _, key in items if key is not None}
    p = np.full((n_runs, n_steps, len(items)), 0.5)
    for j, (_, _, key) in enumerate(items):
        for r, run in enumerate(runs):
            if key is None:
                p[r, :, j] = p_freq
            elif tau is None:
                p[r, :, j] = own[key]
            else:
                s = np.asarray(seen[run].get(key, []))
                for t, st in enumerate(steps):
                    before = s[s <= st]
                    recent = np.exp(-(st - before[-1]) / tau) if before.size else 0.0
                    p[r, t, j] = 0.1 + 0.8 * recent
    correct = (rng.random(p.shape) < p).astype(np.float32)
    margin = ((2 * correct - 1) * 1.5 + rng.normal(0, 0.3, p.shape)).astype(np.float32)
    notdone = ~np.asarray(ds["done"].values, bool)
    correct[notdone], margin[notdone] = np.nan, np.nan
    ds = ds.assign_coords(item_probe=("item", [i[0] for i in items]),
                          item_id=("item", [i[1] for i in items]))
    ds["probe_item_correct"] = (("run", "step", "item"), correct)
    ds["probe_item_margin"] = (("run", "step", "item"), margin)
    ds.attrs["seen"] = json.dumps(seen)
    return ds


def _effect_curve(steps: np.ndarray, b: int, length: int, peak: float, q: float,
                  tau: float) -> np.ndarray:
    """0 before ``b``, a ramp to ``peak`` over the intervention, then decay to ``q``·peak."""
    t = steps.astype(float)
    ramp = peak * np.clip((t - b) / length, 0, 1)
    after = peak * (q + (1 - q) * np.exp(-np.maximum(t - b - length, 0) / tau))
    return np.where(t <= b, 0.0, np.where(t <= b + length, ramp, after))


def intervention_store(branch_steps=(20, 40, 60, 80, 100, 120), retained=1.0, data_seeds=(0, 1),
                       n_steps: int = 21, dt: int = 10, length: int = 10, peak: float = 3.0,
                       tau: float = 15.0, noise: float = 0.02, seed: int = 0,
                       spec: bool = True) -> xr.Dataset:
    """A parent run ``p`` and its branches: at every branch step and data seed a control
    (intervention none) and a ``canary`` branch whose target probe ``iv:canary`` gains ``peak``
    nats over ``length`` steps and then keeps the fraction ``retained`` of it (broadcast to
    (branch step, data seed)); the battery probes move by a tenth of that. Branch runs are not
    done before their branch step. Steps 0, dt, …"""
    import json

    rng = np.random.default_rng(seed + 9)
    steps = np.arange(n_steps) * dt
    q = np.broadcast_to(np.asarray(retained, float), (len(branch_steps), len(data_seeds)))
    runs = [("p", "", -1, 0, "none", 0.0)]
    for i, b in enumerate(branch_steps):
        for j, d in enumerate(data_seeds):
            runs.append((f"b-at{b}-data{d}", "p", b, d, "none", 0.0))
            runs.append((f"b-at{b}-data{d}-canary", "p", b, d, "canary", q[i, j]))
    probes = ["brackets", "facts", "acronyms", "iv:canary"]
    shape = (len(runs), n_steps, len(probes))
    base_curve = np.array([1.0, 0.5, 2.0, -2.0])[None, :] * np.linspace(0.2, 1, n_steps)[:, None]
    margin = np.broadcast_to(base_curve, shape) + rng.normal(0, noise, shape)
    loss = 3 - np.linspace(0, 1, n_steps)[None] + rng.normal(0, noise / 4, shape[:2])
    done = np.ones(shape[:2], bool)
    for r, (_, parent, b, _, iv, qq) in enumerate(runs):
        if parent:
            done[r, steps < b] = False
        if iv != "none":
            e = _effect_curve(steps, b, length, peak, qq, tau)
            margin[r, :, 3] += e
            margin[r, :, :3] += 0.1 * e[:, None]
            loss[r] += 0.01 * e
    margin[~done], loss[~done] = np.nan, np.nan
    ds = store(len(runs), steps, seed=seed, factors={
        "seed": [0] * len(runs), "parent": [x[1] for x in runs],
        "branch_step": [x[2] for x in runs], "data_seed": [x[3] for x in runs],
        "intervention": [x[4] for x in runs]})
    ds = ds.assign_coords(run=[x[0] for x in runs], probe=probes)
    ds["done"].values[:] = done
    ds["behavior_margin"] = (("run", "step", "probe"), margin.astype(np.float32))
    ds["behavior"] = (("run", "step", "probe"), expit(margin).astype(np.float32))
    ds["loss"] = (("run", "step"), loss.astype(np.float32))
    if spec:
        ds.attrs["spec"] = json.dumps({
            "interventions": [{"name": "canary", "source": "canaries", "start": 1, "end": length}],
            "branches": [{"name": "b", "parent": "p", "at": list(branch_steps),
                          "data_seed": list(data_seeds), "intervention": ["none", "canary"]}]})
    return ds


def decision_properties(n_runs: int, rng: np.random.Generator, n_props: int = 12,
                        n_steps: int = 16, coupled: bool = False) -> tuple[np.ndarray, dict]:
    """Issue 14's predictiveness suite: steps log-spaced 1-10000 and one curve (run, step) per
    property, rising from 0.3 to each run's final value (0.6 + spread x normal) along a logistic
    in log10(step) centred at a decision time, checkpoint noise sd 0.03. Spread is uniform on
    [0.02, 0.3] and decision time on [2, log10 5000]; independent, or with ``coupled`` the
    spreads sorted by decision time (late decisions spread most: the single-axis model)."""
    steps = np.unique(np.round(np.geomspace(1, 10000, n_steps))).astype(np.int64)
    spread, decide = rng.uniform(0.02, 0.3, n_props), rng.uniform(2, np.log10(5000), n_props)
    if coupled:
        spread = np.sort(spread)[np.argsort(np.argsort(decide))]
    out = {}
    for i in range(n_props):
        final = 0.6 + spread[i] * rng.normal(size=(n_runs, 1))
        w = expit((np.log10(steps)[None] - decide[i]) / 0.2)
        out[f"p{i}"] = 0.3 + (final - 0.3) * w + 0.03 * rng.normal(size=(n_runs, len(steps)))
    return steps, out
