"""Synthetic measurement stores (schema: docs/store.md) with planted answers.

Each ``add_*`` builder fills some variables of a ``base`` store and returns
what it planted, so a test can check that an analysis finds it. ``make_store``
assembles a complete store (every variable of the schema) for contract and
end-to-end tests, with runs whose steps differ (some cells not done).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.special import expit

VOCAB = ["the", " cat", " sat", " on", " mat", ",", ".", "(", ")", "[", "]", "1", "2", "42",
         " Alice", " Bob", " Paris", "\n", " and", " of", " a", " to", " in", " is", " was",
         " dog", " ran", " big", " red", "!", "?", ";", " he", " she", " it", " we", " they",
         " house", " tree", " sun", " moon", " blue", " green", " 7", " 1999", " Zeta",
         "{", "}", " x", " y"]
V = len(VOCAB)
KINDS = ["previous_token", "duplicate_token", "induction", "copying"]
PER_CELL = ("logprob", "entropy", "dist_logp", "dist_rest", "head_score", "icl_score", "hidden",
            "loss", "train_loss", "behavior")


def log_steps(n_steps: int) -> np.ndarray:
    """0, 1, 2, 4, … (n_steps values)."""
    return np.r_[0, 2 ** np.arange(n_steps - 1)].astype(np.int64)


def base(n_runs: int = 4, n_steps: int = 12, n_seq: int = 8, n_pos: int = 24, seed: int = 0,
         factors: dict[str, list] | None = None) -> xr.Dataset:
    """Tokens, strings, run factors and the per-job bookkeeping; every job done."""
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, V + 1)
    tokens = rng.choice(V, size=(n_seq, n_pos), p=p / p.sum()).astype(np.int32)
    steps = log_steps(n_steps)
    runs = [f"run{i}" for i in range(n_runs)]
    coords = {"run": runs, "step": steps}
    for k, v in (factors or {"seed": list(range(n_runs))}).items():
        coords[f"factor_{k}"] = ("run", np.asarray(v))
    shape = (n_runs, n_steps)
    return xr.Dataset(
        {"tokens": (("seq", "pos"), tokens),
         "token_str": (("seq", "pos"), np.array(VOCAB, dtype=object)[tokens]),
         "done": (("run", "step"), np.ones(shape, bool)),
         "tokens_seen": (("run", "step"), np.broadcast_to(steps * 1024, shape).copy()),
         "train_loss": (("run", "step"), np.full(shape, np.nan, np.float32))},
        coords=coords,
        attrs={"suite": "synthetic", "eval_hash": "0" * 64, "icl_early_pos": 2,
               "icl_late_pos": n_pos - 1, "vocab_size": V, "pathdep_version": "test",
               "store_format": 2})  # read as it is (not upgraded from format 1: docs/store.md)


def _x(steps: np.ndarray) -> np.ndarray:
    """log10(step), with step 0 placed 0.3 below step 1."""
    return np.where(steps > 0, np.log10(np.maximum(steps, 1)), -0.3)


def curve_surprisal(cls: np.ndarray, final: np.ndarray, mid: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(token, step) surprisal: 0 S-shaped, 1 smooth (linear in log-step), 2 non-monotone."""
    chance, x1 = np.log(V), x.max()
    frac_s = expit((x[None] - mid[:, None]) / 0.08)
    frac_lin = np.clip(x[None] / x1, 0, 1)
    bump = 1.5 * (expit((x[None] - 0.55 * x1) / 0.06) - expit((x[None] - 0.85 * x1) / 0.06))
    frac_nm = expit((x[None] - 0.25 * x1) / 0.08)
    s = {0: chance + (final[:, None] - chance) * frac_s,
         1: chance + (final[:, None] - chance) * frac_lin,
         2: chance + (final[:, None] - chance) * frac_nm + bump}
    return np.select([cls[:, None] == c for c in (0, 1, 2)], [s[0], s[1], s[2]])


def add_logprob(ds: xr.Dataset, seed: int = 0, noise: float = 0.03,
                outlier_run: int | None = 1) -> dict:
    """Per-token curves of planted classes; ``outlier_run`` fails on bracket tokens at the end."""
    rng = np.random.default_rng(seed + 1)
    n_runs, n_steps = ds.sizes["run"], ds.sizes["step"]
    n_tok = ds.sizes["seq"] * ds.sizes["pos"]
    x = _x(ds["step"].values)
    cls = rng.choice(3, n_tok, p=[0.4, 0.4, 0.2])
    final = rng.uniform(0.3, 2.5, n_tok)
    mid = rng.uniform(0.3, 0.7, n_tok) * x.max()
    lp = np.empty((n_runs, n_steps, n_tok))
    for r in range(n_runs):
        s = curve_surprisal(cls, final, mid + rng.normal(0, 0.03, n_tok), x)
        lp[r] = -(s + rng.normal(0, noise, s.shape)).T
    strs = np.asarray(ds["token_str"].values).reshape(-1)
    brackets = np.isin(strs, ["(", ")", "[", "]", "{", "}"])
    if outlier_run is not None:
        lp[outlier_run, -3:, brackets] -= 4.0
    lp = lp.reshape(n_runs, n_steps, ds.sizes["seq"], ds.sizes["pos"])
    lp[..., 0] = np.nan
    ds["logprob"] = (("run", "step", "seq", "pos"), lp.astype(np.float32))
    ds["entropy"] = (("run", "step", "seq", "pos"), (-lp * 0.8).astype(np.float32))
    ds["loss"] = (("run", "step"), np.nanmean(-lp, axis=(2, 3)).astype(np.float32))
    return {"classes": cls.reshape(ds.sizes["seq"], ds.sizes["pos"]), "brackets": brackets}


def add_pca_logprob(ds: xr.Dataset, seed: int = 0, noise: float = 0.05) -> dict:
    """Per-token loss = base + a(run, step)·u + b(run, step)·v + noise, u ⟂ v planted."""
    rng = np.random.default_rng(seed + 2)
    n_runs, n_steps = ds.sizes["run"], ds.sizes["step"]
    n_tok = ds.sizes["seq"] * ds.sizes["pos"]
    valid = np.tile(np.arange(ds.sizes["pos"]) >= 1, ds.sizes["seq"])
    u, v = np.zeros(n_tok), np.zeros(n_tok)
    cand = rng.permutation(np.flatnonzero(valid))
    u[cand[:40]], v[cand[40:70]] = rng.uniform(0.5, 1.5, 40), rng.uniform(0.5, 1.5, 30)
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    prog = np.linspace(0, 1, n_steps)
    a = 20 * prog[None, :] * np.ones((n_runs, 1))
    b = 6 * np.outer(rng.choice([-1.0, 1.0], n_runs), prog)
    base_loss = rng.uniform(1, 4, n_tok)
    loss = (base_loss + a[..., None] * u + b[..., None] * v
            + rng.normal(0, noise, (n_runs, n_steps, n_tok)))
    lp = -loss.reshape(n_runs, n_steps, ds.sizes["seq"], ds.sizes["pos"])
    lp[..., 0] = np.nan
    ds["logprob"] = (("run", "step", "seq", "pos"), lp.astype(np.float32))
    return {"u": u, "v": v, "a": a, "b": b}


def add_heads(ds: xr.Dataset, formation: np.ndarray, icl_offset: int | np.ndarray = 0,
              replaced: tuple[int, ...] = (), seed: int = 0, prev_at: int = 2) -> dict:
    """Head scores (2 layers × 4 heads): previous-token head L0H1 from step index ``prev_at``;
    induction head L1H2 from ``formation[run]`` (L1H0 first, replaced by L1H2 three steps
    later in ``replaced`` runs); ICL score drops from −0.05 to −0.4 at formation + offset."""
    rng = np.random.default_rng(seed + 3)
    n_runs, n_steps = ds.sizes["run"], ds.sizes["step"]
    t = np.arange(n_steps)
    hs = rng.uniform(0, 0.1, (n_runs, n_steps, 2, 4, len(KINDS)))
    icl = -0.05 + rng.normal(0, 0.01, (n_runs, n_steps))
    jump = np.asarray(formation) + np.asarray(icl_offset)
    for r in range(n_runs):
        f = formation[r]
        hs[r, :, 0, 1, 0] += 0.8 * expit((t - prev_at + 0.5) / 0.2)
        if r in replaced:
            hs[r, :, 1, 0, 2] += 0.7 * (expit((t - f + 0.5) / 0.2) - expit((t - f - 2.5) / 0.2))
            hs[r, :, 1, 2, 2] += 0.7 * expit((t - f - 2.5) / 0.2)
        else:
            hs[r, :, 1, 2, 2] += 0.7 * expit((t - f + 0.5) / 0.2)
        icl[r] -= 0.35 * expit((t - jump[r] + 0.5) / 0.2)
    ds["head_score"] = (("run", "step", "layer_h", "head", "kind"), hs.astype(np.float32))
    ds = ds.assign_coords(kind=KINDS, layer_h=[0, 1], head=np.arange(4))
    ds["icl_score"] = (("run", "step"), icl.astype(np.float32))
    return ds, {"formation": np.asarray(formation), "jump": jump}


def add_behavior(ds: xr.Dataset, probes: dict[str, np.ndarray]) -> xr.Dataset:
    """``behavior`` from (run, step) arrays, one per probe."""
    arr = np.stack([probes[p] for p in probes], -1).astype(np.float32)
    ds["behavior"] = (("run", "step", "probe"), arr)
    return ds.assign_coords(probe=list(probes))


def bimodal_curves(n_runs: int, n_steps: int, lock: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Runs split into two groups from step index ``lock`` on (0.5 ± 0.15…0.3); noise before."""
    rng = np.random.default_rng(seed + 4)
    group = rng.permutation(np.arange(n_runs) % 2).astype(bool)
    t = np.arange(n_steps)
    sep = np.where(t >= lock, 0.15 + 0.15 * (t - lock) / max(n_steps - 1 - lock, 1), 0.0)
    v = 0.5 + np.where(group[:, None], 1, -1) * sep[None] + rng.normal(0, 0.02, (n_runs, n_steps))
    return v, group


def unimodal_curves(n_runs: int, n_steps: int, seed: int = 0) -> np.ndarray:
    """Every run grows to a final value drawn from one normal distribution."""
    rng = np.random.default_rng(seed + 5)
    final = rng.normal(0.6, 0.08, n_runs)
    prog = expit((np.arange(n_steps) - n_steps / 2) / 1.5)
    return 0.1 + (final[:, None] - 0.1) * prog[None] + rng.normal(0, 0.01, (n_runs, n_steps))


def add_hidden(ds: xr.Dataset, mode: str = "rotated", n_hsample: int = 64, d: int = 16,
               noise: float = 0.05, seed: int = 0) -> xr.Dataset:
    """Hidden states at hlayers [0, 2]: a shared representation rotated per run
    (``rotated``) or drawn independently per run (``independent``)."""
    rng = np.random.default_rng(seed + 6)
    n_runs, n_steps = ds.sizes["run"], ds.sizes["step"]
    h = np.empty((n_runs, n_steps, 2, n_hsample, d))
    shared = rng.normal(size=(2, n_hsample, d)) * np.linspace(3, 0.3, d)
    for r in range(n_runs):
        q = np.linalg.qr(rng.normal(size=(d, d)))[0]
        for li in range(2):
            z = shared[li] @ q if mode == "rotated" else rng.normal(size=(n_hsample, d))
            h[r, :, li] = z[None] + rng.normal(0, noise, (n_steps, n_hsample, d))
    ds["hidden"] = (("run", "step", "hlayer", "hsample", "d"), h.astype(np.float16))
    n_pos = ds.sizes["pos"]
    return ds.assign_coords(hlayer=[0, 2], hsample_seq=("hsample", np.arange(n_hsample) % ds.sizes["seq"]),
                            hsample_pos=("hsample", 1 + np.arange(n_hsample) % (n_pos - 1)))


def add_distributions(ds: xr.Dataset, n_sample: int = 32, k: int | None = 8, seed: int = 0) -> xr.Dataset:
    """Next-token distributions that start run-specific and converge over training."""
    rng = np.random.default_rng(seed + 7)
    n_runs, n_steps = ds.sizes["run"], ds.sizes["step"]
    g = np.linspace(0, 1, n_steps)
    shared = rng.normal(0, 3, (n_sample, V))
    own = rng.normal(0, 3, (n_runs, n_sample, V))
    logits = g[None, :, None, None] * shared + (1 - g)[None, :, None, None] * own[:, None]
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    if k is None:
        ids = np.broadcast_to(np.arange(V), logp.shape).astype(np.int32)
        kept, rest = logp, np.full(logp.shape[:-1], -np.inf)
    else:
        ids = np.argsort(-logp, -1)[..., :k].astype(np.int32)
        kept = np.take_along_axis(logp, ids, -1)
        rest = np.log1p(-np.exp(kept).sum(-1))
    ds["dist_logp"] = (("run", "step", "sample", "k"), kept.astype(np.float32))
    ds["dist_ids"] = (("run", "step", "sample", "k"), ids)
    ds["dist_rest"] = (("run", "step", "sample"), rest.astype(np.float32))
    n_pos = ds.sizes["pos"]
    return ds.assign_coords(sample_seq=("sample", np.arange(n_sample) % ds.sizes["seq"]),
                            sample_pos=("sample", 1 + np.arange(n_sample) % (n_pos - 1)))


def drop_cells(ds: xr.Dataset, run: int, step_idx: list[int]) -> xr.Dataset:
    """Mark jobs not done and blank their cells (NaN), as an unfinished run would leave them."""
    ds["done"][run, step_idx] = False
    for v in PER_CELL:
        if v in ds.variables:
            arr = ds[v].values
            if np.issubdtype(arr.dtype, np.floating):
                arr[run, step_idx] = np.nan
    return ds


def plain_store(n_runs: int = 5, n_steps: int = 12, seed: int = 0, ragged: bool = True) -> xr.Dataset:
    """Every variable of the schema, planted structure everywhere; runs 0 and last ragged."""
    lr = np.array(["1e-3", "3e-3"])[np.arange(n_runs) % 2]
    ds = base(n_runs, n_steps, seed=seed, factors={"seed": list(range(n_runs)), "lr": lr})
    add_logprob(ds, seed)
    ds, _ = add_heads(ds, formation=np.arange(n_runs) % 3 + 5, replaced=(1,), seed=seed)
    bi, _ = bimodal_curves(n_runs, n_steps, lock=6, seed=seed)
    uni = unimodal_curves(n_runs, n_steps, seed)
    lr_curve = uni + np.where(lr == "3e-3", 0.2, 0.0)[:, None] * np.linspace(0, 1, n_steps)
    ds = add_behavior(ds, {"brackets": bi, "facts": uni, "acronyms": lr_curve})
    ds = add_hidden(ds, seed=seed)
    ds = add_distributions(ds, seed=seed)
    if ragged:
        ds = drop_cells(ds, 0, [3])
        ds = drop_cells(ds, n_runs - 1, [n_steps - 1])
    return ds


# --- fact timing and interventions (fact_timing.py, interventions.py) -------------------------

def add_fact_items(ds: xr.Dataset, n_rare: int = 40, n_freq: int = 10, n_canary: int = 6,
                   tau: float | None = 200.0, p_freq: float = 0.9, seed: int = 0) -> xr.Dataset:
    """Fact and canary probe items and the ``seen`` attribute: the harness's builder
    (pathdep.analysis.simulate.with_fact_items, which documents what is planted)."""
    from pathdep.analysis import simulate

    return simulate.with_fact_items(ds, n_rare, n_freq, n_canary, tau, p_freq, seed)


def intervention_store(branch_steps=(20, 40, 60, 80, 100, 120), retained=1.0, data_seeds=(0, 1),
                       **kw) -> xr.Dataset:
    """A parent run and its control and intervention branches: the harness's builder
    (pathdep.analysis.simulate.intervention_store, which documents what is planted)."""
    from pathdep.analysis import simulate

    return simulate.intervention_store(branch_steps, retained, data_seeds, **kw)


def add_branch_runs(ds: xr.Dataset, parent: int = 0, at: tuple[int, ...] = (4, 7),
                    seed: int = 0) -> xr.Dataset:
    """Append branches of run ``parent`` (copies of all its variables): at each step index in
    ``at`` a control and a ``burst`` branch; adds probe ``iv:burst`` and ``behavior_margin``.
    The first burst decays, the second sticks."""
    import json

    rng = np.random.default_rng(seed + 10)
    names = [str(r) for r in ds["run"].values]
    steps = ds["step"].values.astype(np.int64)
    n_new = 2 * len(at)
    ext = ds.isel(run=[parent] * n_new)
    new_ids = [f"{names[parent]}-b{steps[a]}{s}" for a in at for s in ("", "-burst")]
    ext = ext.assign_coords(run=new_ids)
    ds = ds.assign_coords(factor_parent=("run", [""] * len(names)),
                          factor_branch_step=("run", [-1] * len(names)),
                          factor_intervention=("run", ["none"] * len(names)))
    ext = ext.assign_coords(factor_parent=("run", [names[parent]] * n_new),
                            factor_branch_step=("run", [int(steps[a]) for a in at for _ in (0, 1)]),
                            factor_intervention=("run", ["none", "burst"] * len(at)))
    out = xr.concat([ds, ext], "run", data_vars="minimal", coords="minimal", compat="override",
                    join="outer")
    b = np.asarray(out["behavior"].values, float)
    n_runs, n_steps, _ = b.shape
    margin = 4 * (b - 0.5)
    target = -2 + rng.normal(0, 0.02, (n_runs, n_steps))
    for i, a in enumerate(at):
        r = len(names) + 2 * i + 1
        x = np.arange(n_steps, dtype=float)
        e = np.where(x <= a, 0, np.where(x == a + 1, 3.0, 3.0 * (i > 0)))
        target[r] += e
        margin[r] += 0.1 * e[:, None]
    margin = np.concatenate([margin, target[..., None]], -1)
    probes = [*map(str, out["probe"].values), "iv:burst"]
    out = out.drop_vars(["behavior"]).drop_dims("probe").assign_coords(probe=probes)
    done = np.asarray(out["done"].values, bool)
    margin[~done] = np.nan
    out["behavior"] = (("run", "step", "probe"), expit(margin).astype(np.float32))
    out["behavior_margin"] = (("run", "step", "probe"), margin.astype(np.float32))
    out.attrs["spec"] = json.dumps({
        "interventions": [{"name": "burst", "source": "canaries", "start": 1, "end": 1}],
        "branches": [{"name": names[parent], "parent": names[parent],
                      "at": [int(steps[a]) for a in at], "intervention": ["none", "burst"]}]})
    return out


def make_store(n_runs: int = 5, n_steps: int = 12, seed: int = 0,
               ragged: bool = True) -> xr.Dataset:
    """The store above plus two pairs of branch runs of run 0 (``add_branch_runs``), fact and
    canary probe items and ``seen`` (``add_fact_items``), so every registered analysis runs."""
    ds = plain_store(n_runs, n_steps, seed, ragged)
    ds = add_branch_runs(ds, seed=seed)
    return add_fact_items(ds, n_rare=12, n_freq=4, n_canary=4, seed=seed)
