"""Per-token learning curves: their shape, age of acquisition and variability (methods.md §2).

For a sample of tokens, each run's curve of surprisal (−logprob, nats)
against log10(step) (step 0 dropped, as Chang et al. do) is classified:

- **non-monotone** if it un-learns: Chang et al.'s *forgettability* (the total
  rise of the GAM-smoothed surprisal curve) exceeds ``forget_frac`` of the
  curve's range and ``forget_min`` nats, or Xia et al.'s upward rule holds
  after ``xia_threshold`` of the checkpoints (perplexity mean m with
  m/x₀ > 1.05 and m/x_T < 0.95, i.e. a late rise; applied to the smoothed
  curve, because on raw curves checkpoint noise alone trips a 5 % rule);
- **S-shaped** if not, and the 4-parameter sigmoid beats the best smooth
  alternative (a line or a quadratic in log-step, or a power law in step) by
  more than ``bic_margin`` in BIC, with its transition (xmid ± 2·scale)
  inside the observed steps, i.e. a plateau before and after it;
- **smooth** otherwise;
- **flat** before all of these: the smoothed curve's range is within 4 noise
  s.d. (the checkpoint noise, from the curve's first differences), so nothing
  was learned beyond noise; and a curve un-learns only if its largest rise above
  an earlier low exceeds 4 noise s.d. Without these, flat noisy curves were
  called non-monotone 25-57 % of the time at noise s.d. 0.05-0.3 (issue 14);
  and with the total rise in place of the largest one, the GAM's ringing after
  a steep S-shaped drop made 11-23 % of S-shaped curves non-monotone at noise
  s.d. 0.1-0.2 (the largest rise: 1-2 %; docs/calibration.md).

The suite-level claim is that **some tokens un-learn**: the lower end of the
non-monotone share's interval exceeds :data:`NOISE_SHARE`, the most that
checkpoint noise makes non-monotone of curves that never un-learn (flat,
S-shaped and power-law curves at noise s.d. 0.05-0.3; docs/calibration.md).
A share within that is not evidence of forgetting, whatever its value.

Also per token and run: the age of acquisition (Chang et al.: the step where
the fitted sigmoid is half-way from chance surprisal ln V to its minimum),
within-run variability (s.d. over the last 11 checkpoints) and, per token,
cross-run variability (mean squared difference of the smoothed curves over
pairs of runs, at the steps both have). Across runs: how often a token's class
agrees, and the rank correlation of ages of acquisition. Intervals:
Multi-Bootstrap over runs and tokens (the AoA correlation: over runs).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field
from scipy.stats import spearmanr

from pathdep.analysis import bootstrap, curve_fit, data, figures, power, simulate, tokens
from pathdep.analysis.contract import Analysis, BootOptions, Simulation, StoreInputs, on_store
from pathdep.analysis.result import AnalysisResult

CLASSES = ("S-shaped", "smooth", "non-monotone", "flat")
MIN_POINTS = 6
# Measurement noise decides what counts as a change. sigma: the curve's checkpoint-to-checkpoint
# noise (MAD of its first differences / 0.6745 / sqrt 2, robust to the trend). A curve whose
# smoothed range stays within FLAT_K sigma is flat (nothing learned beyond noise); a rise counts
# as forgetting only beyond FORGET_K sigma. Calibrated on flat and S-shaped curves with noise sd
# 0.05-0.3 on 16 log-spaced checkpoints (tests/analyze/test_learning_curves.py).
FLAT_K, FORGET_K = 4.0, 4.0
NOISE_SHARE = 0.10  # non-monotone share that noise alone can give (see the module docstring)


def _xia_rise(smooth_s: np.ndarray, threshold: float) -> np.ndarray:
    ppl = np.exp(smooth_s[:, int(threshold * smooth_s.shape[1]):])
    m = ppl.mean(1)
    return (m / ppl[:, 0] > 1.05) & (m / ppl[:, -1] < 0.95)


def classify_run(x: np.ndarray, s: np.ndarray, chance: float,
                 opts: dict) -> tuple[pd.DataFrame, np.ndarray]:
    """Classify the surprisal curves ``s`` (token, len(x)) of one run; also the smoothed curves."""
    n = len(x)
    sig = curve_fit.sigmoid_fit(x, s)
    b_sig = curve_fit.bic(sig.rss, n, 4)
    b_smooth = np.minimum.reduce([curve_fit.bic(curve_fit.poly_rss(x, s, 1), n, 2),
                                  curve_fit.bic(curve_fit.poly_rss(x, s, 2), n, 3),
                                  curve_fit.bic(curve_fit.decay_rss(x, s), n, 3)])
    sm = curve_fit.gam_smooth(x, s)
    forget = np.clip(np.diff(sm, axis=1), 0, None).sum(1)
    rise = (sm - np.minimum.accumulate(sm, axis=1)).max(1)  # largest rise above an earlier low
    amplitude = sm.max(1) - sm.min(1)
    xia = _xia_rise(sm, opts["xia_threshold"])
    sigma = curve_fit.noise_sd(s)
    flat = amplitude <= FLAT_K * sigma
    nonmono = ~flat & (((forget > opts["forget_frac"] * amplitude) & (forget > opts["forget_min"])
                        & (rise > FORGET_K * sigma)) | xia)
    inside = (sig.xmid - 2 * sig.scale > x.min()) & (sig.xmid + 2 * sig.scale < x.max())
    s_shape = ~flat & ~nonmono & inside & (b_sig < b_smooth - opts["bic_margin"])
    cls = np.select([flat, nonmono, s_shape], ["flat", "non-monotone", "S-shaped"], "smooth")
    x_fine = np.linspace(x.min(), x.max(), 200)
    fit = sig.predict(x_fine)
    aoa = curve_fit.crossing(fit, x_fine, 0.5 * chance + 0.5 * fit.min(1))
    tail = s[:, -min(11, n):]
    return pd.DataFrame({"class": cls, "aoa_step": 10**aoa, "forgettability": forget,
                         "largest_rise": rise, "xia_rise": xia, "noise_sd": sigma, "within_run_sd": tail.std(1), "bic_sigmoid": b_sig,
                         "bic_smooth": b_smooth}), sm


def _cross_run_msd(smoothed: dict[int, tuple[np.ndarray, np.ndarray]], n_tok: int) -> np.ndarray:
    """Per token: mean over run pairs of the mean squared difference of smoothed curves."""
    keys, acc, n = sorted(smoothed), np.zeros(n_tok), 0
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            (sa, xa), (sb, xb) = smoothed[a], smoothed[b]
            common, ia, ib = np.intersect1d(xa, xb, return_indices=True)
            if len(common):
                acc += ((sa[:, ia] - sb[:, ib]) ** 2).mean(1)
                n += 1
    return acc / n if n else np.full(n_tok, np.nan)


def _shares(cls: np.ndarray, n_boot: int, seed: int) -> dict:
    """Mean over runs of each class's share, Multi-Bootstrap over runs and tokens."""
    out = {}
    for c in CLASSES:
        hit = (cls == c).astype(float)  # (run, token)
        out[c] = bootstrap.estimate(lambda r, w, h=hit: (h[r] @ w).mean() / w.sum(), hit.shape[0],
                                    hit.shape[1], n_boot=n_boot, seed=seed)
    return out


def _agreement(cls: np.ndarray, aoa: np.ndarray, n_boot: int, seed: int):
    n = cls.shape[0]
    same = cls[:, None, :] == cls[None, :, :]  # (run, run, token)

    def stat(r, w):
        return bootstrap.mean_over_pairs((same * w).sum(-1) / w.sum(), r)

    agree = bootstrap.estimate(stat, n, cls.shape[1], n_boot=n_boot, seed=seed)
    rho = np.full((n, n), np.nan)
    for a in range(n):
        for b in range(a + 1, n):
            rho[a, b] = rho[b, a] = spearmanr(aoa[a], aoa[b]).statistic
    aoa_rho = bootstrap.estimate(lambda r, w: bootstrap.mean_over_pairs(rho, r), n,
                                 n_boot=n_boot, seed=seed)
    return agree, aoa_rho


def _fit_runs(ds, idx, opts):
    st, d = data.steps(ds), data.done(ds)
    chance = float(np.log(data.vocab_size(ds)))
    per_run, smoothed = {}, {}
    for r in range(ds.sizes["run"]):
        si = np.flatnonzero(d[r] & (st > 0))
        if len(si) < MIN_POINTS:
            continue
        s = -np.stack([data.snapshot(ds, "logprob", r, j, idx) for j in si], 1)  # (token, step)
        df, sm = classify_run(np.log10(st[si]), np.nan_to_num(s, nan=chance), chance, opts)
        per_run[r], smoothed[r] = df, (sm, st[si])
    if not per_run:
        raise data.Skip(f"no run has {MIN_POINTS} done steps after step 0")
    return per_run, smoothed


def _tables(ds, idx, per_run, msd):
    names, n_pos = data.runs(ds), ds.sizes["pos"]
    strs, ctx = tokens.strings(ds, idx), tokens.contexts(ds, idx)
    base = pd.DataFrame({"seq": idx // n_pos, "pos": idx % n_pos, "token": strs})
    long = pd.concat([base.assign(run=names[r], **df.to_dict("series")) for r, df in per_run.items()])
    cls = np.stack([df["class"].to_numpy() for df in per_run.values()])
    cross = base.assign(context=ctx, cross_run_msd=msd,
                        classes=[" / ".join(c) for c in cls.T], same_class_all=(cls == cls[0]).all(0))
    return long.reset_index(drop=True), cross, cls


def _figures(ds, long: pd.DataFrame, shares_df: pd.DataFrame, idx) -> dict:
    figs = {"class_shares": figures.bars(shares_df, "class", "share", "run",
                                         title="Share of token learning curves by shape")}
    first = long[long["run"] == long["run"].iloc[0]].reset_index(drop=True)
    r0 = data.runs(ds).index(first["run"].iloc[0])
    st, d = data.steps(ds), data.done(ds)
    si = np.flatnonzero(d[r0] & (st > 0))
    rows = []
    for c in CLASSES:
        for i in np.flatnonzero(first["class"].to_numpy() == c)[:3]:
            y = [data.snapshot(ds, "logprob", r0, j, idx[i:i + 1])[0] for j in si]
            rows += [{"step": int(st[j]), "logprob": v, "curve": f"{c}: {first['token'][i]!r}"}
                     for j, v in zip(si, y, strict=True)]
    if rows:
        figs["example_curves"] = figures.lines(pd.DataFrame(rows), "step", "logprob", "curve",
                                               log_x=True, title="Example learning curves (first run)")
    return figs


class LearningCurvesOptions(BootOptions):
    """Options of :func:`learning_curves`."""

    max_tokens: int = Field(2000, ge=1, description="Tokens whose curves are classified.")
    forget_frac: float = Field(0.25, ge=0, description=(
        "Forgettability (total rise of the smoothed curve) above this share of its range counts as"
        " non-monotone."))
    forget_min: float = Field(0.1, ge=0, description="... and must exceed this many nats.")
    xia_threshold: float = Field(0.3, ge=0, le=1, description=(
        "Xia et al.'s upward rule is checked after this share of the checkpoints."))
    bic_margin: float = Field(2.0, ge=0, description=(
        "BIC margin by which the sigmoid must beat the smooth fits to call a curve S-shaped."))


def learning_curves(ds: xr.Dataset, options: LearningCurvesOptions | None = None,
                    **overrides) -> AnalysisResult:
    """Classify per-token learning curves per run and compare them across runs."""
    o = LearningCurvesOptions.build(options, **overrides)
    (max_tokens, n_boot, seed, forget_frac, forget_min, xia_threshold, bic_margin) = (
        o.max_tokens, o.n_boot, o.seed, o.forget_frac, o.forget_min, o.xia_threshold, o.bic_margin)
    data.require(ds, "logprob")
    opts = {"forget_frac": forget_frac, "forget_min": forget_min, "xia_threshold": xia_threshold,
            "bic_margin": bic_margin}
    idx = data.sample_tokens(ds, max_tokens, seed)
    per_run, smoothed = _fit_runs(ds, idx, opts)
    long, cross, cls = _tables(ds, idx, per_run, _cross_run_msd(smoothed, len(idx)))
    shares = _shares(cls, n_boot, seed)
    shares_df = long.groupby(["run", "class"]).size().rename("n").reset_index()
    shares_df["share"] = shares_df["n"] / len(idx)
    aoa = np.stack([np.log10(df["aoa_step"].to_numpy()) for df in per_run.values()])
    summary = {"n_tokens": len(idx), "n_runs": len(per_run),
               **{f"share_{c}": shares[c] for c in CLASSES},
               "median_within_run_sd": float(long["within_run_sd"].median()),
               "median_cross_run_msd": float(np.nanmedian(cross["cross_run_msd"]))
               if np.isfinite(cross["cross_run_msd"]).any() else float("nan")}
    nm = shares["non-monotone"]
    summary.update(forgetting=bool(nm.low > NOISE_SHARE), noise_share=NOISE_SHARE)
    verdict = (f"Of {len(idx)} sampled tokens, " + ", ".join(
        f"{shares[c].value:.0%} [{shares[c].low:.0%}, {shares[c].high:.0%}] {c}" for c in CLASSES)
        + " (mean over runs); " + (
            f"more un-learn than the {NOISE_SHARE:.0%} that checkpoint noise makes non-monotone "
            "of curves that never un-learn, so some tokens are forgotten" if summary["forgetting"]
            else f"the non-monotone share is within the {NOISE_SHARE:.0%} that checkpoint noise "
            "alone gives, so this is no evidence that tokens are forgotten"))
    limit = None if summary["forgetting"] else power.cannot_tell("learning_curves", len(per_run))
    verdict += f", {limit}" if limit else ""
    if len(per_run) > 1:
        agree, rho = _agreement(cls, aoa, n_boot, seed)
        summary.update(class_agreement=agree, aoa_rank_correlation=rho)
        verdict += (f"; a token's class agrees between two runs {agree.value:.0%} "
                    f"[{agree.low:.0%}, {agree.high:.0%}] of the time and ages of acquisition "
                    f"correlate ρ = {rho}")
    return AnalysisResult(name="learning_curves", question="G/H (per-token learning curves)",
                          verdict=verdict + ".", summary=summary,
                          tables={"tokens": long, "cross_run": cross, "class_shares": shares_df},
                          figures=_figures(ds, long, shares_df, idx))


def _simulated(n_runs: int, seed: int, planted: bool) -> xr.Dataset:
    """96 tokens per run on 16 log-spaced checkpoints (1-2000), noise s.d. 0.1 nats: 30 % flat,
    40 % S-shaped, 30 % power laws; planted: a fifth of the tokens (the same in every run) relapse
    by 1.5 nats for about a decade after learning."""
    rng = np.random.default_rng(seed)
    st = simulate.log_steps(17)
    kind = rng.choice(3, 96, p=[0.3, 0.4, 0.3])
    if planted:
        kind[rng.permutation(96)[:19]] = 3
    s = np.zeros((n_runs, len(st), 96))
    for r in range(n_runs):
        s[r, 1:] = simulate.token_curves(kind, np.log10(st[1:]), rng).T
    s[:, 0] = np.log(50)
    s += rng.normal(0, 0.1, s.shape)
    ds = simulate.store(n_runs, st, seed=seed)
    return simulate.with_logprob(ds, s.reshape(n_runs, len(st), 4, 24))


SIMULATION = Simulation(
    null=lambda n, seed: _simulated(n, seed, False),
    planted=lambda n, seed: _simulated(n, seed, True),
    claims=lambda res: bool(res.summary.get("forgetting", False)),
    effect="a fifth of the tokens relapsing by 1.5 nats (15 noise sd) for a decade of steps",
    options={"n_boot": 50})

ANALYSIS = Analysis(
    "learning_curves",
    "Are per-token learning curves S-shaped, smooth or non-monotone, and do runs learn tokens in "
    "the same order?",
    label="G/H", section="learning-curves", run=on_store(learning_curves),
    options=LearningCurvesOptions, inputs=StoreInputs(needs=("logprob",), min_runs=1),
    simulation=SIMULATION)
