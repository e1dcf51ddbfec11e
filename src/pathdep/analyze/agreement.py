"""Agreement between runs on per-token log-probabilities at one step (seed 002, first idea).

For each pair of runs: Pearson and Spearman correlation of the per-token
log-probability of the true next token, a hexbin-style density plot of one
run against the other, the outlier tokens (largest absolute difference) with
their context, and what the outliers have in common: the lift of each token
category (punctuation, digit, capitalised, bracket, rare vs frequent, position
in context) among the top ``outlier_frac`` of differences for their difficulty,
pooled over pairs. A category is claimed over-represented only at a stratified
permutation p < 0.01 family-wise over the categories (:func:`tokens.stratified_p`:
the flagged tokens permuted within deciles of difficulty, max-T over categories)
and a lift above 1.5; Fisher's exact test, one category at a time with tokens
independent, stays in the table as description. Difficulty is measured with
noise, so a little confounding by it remains with few runs (docs/calibration.md:
19 % false claims at 4 runs, 1 % at 8, when run-to-run noise is 40 % of
difficulty). Intervals: Multi-Bootstrap over runs and sequences (methods.md §8).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field

from pathdep.analysis import data, figures, pairs, power, simulate, tokens
from pathdep.analysis.contract import Analysis, Simulation, StepOptions, StoreInputs, on_store
from pathdep.analysis.result import AnalysisResult

log = logging.getLogger(__name__)
ALPHA, MIN_LIFT = 0.01, 1.5  # a category is claimed at family-wise p < ALPHA and lift > MIN_LIFT
# Below this many runs no category is claimed: difficulty is estimated from the same runs
# whose disagreement is tested, and in the harness the claim fired in 19 of 100 null
# suites of 4 runs (1 of 100 at 8; docs/calibration.md).
MIN_CATEGORY_RUNS = 8


def _pair_table(ag: pairs.Agreement, names: list[str], n_tokens: int) -> pd.DataFrame:
    rows = []
    for (a, b), p, s in zip(ag.pairs, ag.pearson, ag.spearman, strict=True):
        rows.append({"run_a": names[a], "run_b": names[b], "pearson": p.value, "pearson_low": p.low,
                     "pearson_high": p.high, "spearman": s.value, "spearman_low": s.low,
                     "spearman_high": s.high, "n_tokens": n_tokens})
    return pd.DataFrame(rows)


def relative_spread(diff: np.ndarray, difficulty: np.ndarray) -> np.ndarray:
    """|diff| over the spread expected at the token's difficulty (its mean surprisal over
    all runs): log|diff| regressed on log difficulty (a power law, fitted over all
    tokens), exponentiated.

    Run-to-run differences grow with a token's difficulty, and hard tokens are
    rare ones: selecting outliers by raw |diff| then finds "rare tokens disagree
    most" in suites with no category effect at all (9.3x at p ~ 1e-174 in issue
    14's simulation). Dividing by the spread expected at the token's difficulty
    asks instead which tokens disagree more than their difficulty explains. (A
    running median over difficulty was tried first; at the hard end its window is
    one-sided and it still favoured rare tokens, 1.6x in the test.) Difficulty is
    itself measured with noise, which flattens the fitted power (regression
    dilution), so a little of the confound remains when run-to-run noise is large
    against difficulty; the mean over all runs keeps that noise small. In the test's
    null (noise sd 20% of difficulty, 4 runs) rare tokens are not over-represented
    (lift < 1.5; raw |diff| gives > 2x); at 40% a lift of 1.6 remains.
    """
    m = np.asarray(difficulty, dtype=float)
    z = np.full(len(diff), np.nan)
    d = np.abs(diff)
    ok = np.isfinite(d) & np.isfinite(m) & (m > 0) & (d > 0)
    if ok.sum() < 3:
        return z
    b, a = np.polyfit(np.log(m[ok]), np.log(d[ok]), 1)
    fine = np.isfinite(d) & np.isfinite(m) & (m > 0)
    z[fine] = d[fine] / np.exp(a + b * np.log(m[fine]))
    return z


def _outliers(ds: xr.Dataset, x: np.ndarray, idx: np.ndarray, names: list[str], ag: pairs.Agreement,
              n_show: int, frac: float) -> tuple[pd.DataFrame, np.ndarray]:
    """Top ``n_show`` differences per pair (with context) and the mask of the top-``frac``
    tokens by difference relative to tokens of like difficulty (:func:`relative_spread`)."""
    rows, flagged = [], np.zeros(len(idx), bool)
    n_top = max(1, int(round(frac * len(idx))))
    difficulty = -np.nanmean(x, axis=0)
    for a, b in ag.pairs:
        diff = x[a] - x[b]
        order = np.argsort(-np.abs(np.nan_to_num(diff)))
        rel = np.nan_to_num(relative_spread(diff, difficulty), nan=-np.inf)
        flagged[np.argsort(-rel)[:n_top]] = True
        top = order[:n_show]
        ctx, strs = tokens.contexts(ds, idx[top]), tokens.strings(ds, idx[top])
        n_pos = ds.sizes["pos"]
        for k, t in enumerate(top):
            rows.append({"run_a": names[a], "run_b": names[b], "seq": int(idx[t] // n_pos),
                         "pos": int(idx[t] % n_pos), "token": strs[k], "context": ctx[k],
                         "logprob_a": x[a, t], "logprob_b": x[b, t], "difference": diff[t],
                         "better": names[a] if diff[t] > 0 else names[b]})
    return pd.DataFrame(rows), flagged


def _verdict(step: int, ag: pairs.Agreement, enr: pd.DataFrame, n_runs: int) -> str:
    text = (f"At step {step}, per-token log-probs agree between runs with Pearson r = "
            f"{ag.pearson_mean} and Spearman ρ = {ag.spearman_mean} (mean over {len(ag.pairs)} "
            f"pair{'s' if len(ag.pairs) != 1 else ''})")
    sig = enr[enr["claimed"]]
    if len(sig):
        top = sig.iloc[0]
        return text + (f"; the largest disagreements for their difficulty are over-represented "
                       f"among {top['category']} tokens ({top['lift']:.1f}× their share, "
                       f"stratified permutation p = {top['p_stratified']:.2g} over "
                       f"{len(enr)} categories).")
    if n_runs < MIN_CATEGORY_RUNS:
        return text + (f"; with fewer than {MIN_CATEGORY_RUNS} runs no token category is tested "
                       "for over-representation among the largest disagreements: difficulty "
                       "is estimated from the same runs, and below that the test claims "
                       "categories too often where none is over-represented "
                       "(docs/calibration.md).")
    limit = power.cannot_tell("agreement", n_runs)
    return text + ("; no token category is over-represented among the largest disagreements "
                   "for their difficulty" + (f", {limit}." if limit else "."))


def _categories(ds: xr.Dataset, idx: np.ndarray, flagged: np.ndarray, difficulty: np.ndarray,
                seed: int) -> pd.DataFrame:
    """Enrichment of each token category among the flagged tokens, with the stratified
    permutation p-value (deciles of difficulty; tokens.stratified_p) that decides the claim:
    p < ALPHA family-wise over the categories, and a lift above MIN_LIFT."""
    cats = tokens.categories(ds, idx)
    enr = tokens.enrichment(cats, flagged)
    edges = np.nanquantile(difficulty, np.linspace(0, 1, 11)[1:-1])
    p = tokens.stratified_p(cats, flagged, np.searchsorted(edges, difficulty), seed=seed)
    enr["p_stratified"] = p.reindex(enr["category"]).to_numpy()
    enr["claimed"] = (enr["p_stratified"] < ALPHA) & (enr["lift"] > MIN_LIFT)
    return enr


class AgreementOptions(StepOptions):
    """Options of :func:`agreement`."""

    n_outliers: int = Field(20, ge=1, description="Outlier tokens listed with their contexts.")
    outlier_frac: float = Field(0.01, gt=0, le=1, description=(
        "Share of tokens with the largest between-run spread counted as outliers."))


def agreement(ds: xr.Dataset, options: AgreementOptions | None = None,
              **overrides) -> AnalysisResult:
    """Pairwise agreement of runs' per-token log-probs at ``step`` (default: the last step
    done by the most runs)."""
    o = AgreementOptions.build(options, **overrides)
    (step, n_boot, seed, n_outliers, outlier_frac) = (
        o.step, o.n_boot, o.seed, o.n_outliers, o.outlier_frac)
    data.require(ds, "logprob")
    si = data.choose_step(ds, step)
    step_value = int(data.steps(ds)[si])
    ok_runs = np.flatnonzero(data.done(ds)[:, si])
    names = [data.runs(ds)[r] for r in ok_runs]
    idx = data.valid_tokens(ds)
    x = np.stack([data.snapshot(ds, "logprob", r, si, idx) for r in ok_runs])
    keep = np.isfinite(x).all(0)
    x, idx = x[:, keep], idx[keep]
    ag = pairs.agreement(x, data.seq_of(ds, idx), n_boot=n_boot, seed=seed)
    out_df, flagged = _outliers(ds, x, idx, names, ag, n_outliers, outlier_frac)
    enr = _categories(ds, idx, flagged, -np.nanmean(x, axis=0), seed)
    if len(names) < MIN_CATEGORY_RUNS:
        enr["claimed"] = False
    a, b = ag.pairs[0]
    figs = {
        "scatter": figures.density(x[a], x[b], title=f"Per-token log-prob at step {step_value}",
                                   x_title=f"{names[a]} log p", y_title=f"{names[b]} log p"),
        "pearson_matrix": figures.heatmap(ag.pearson_matrix, names, names, zmin=0, zmax=1,
                                          title=f"Pearson r between runs at step {step_value}"),
    }
    return AnalysisResult(
        name="agreement", question="A (agreement between runs)",
        verdict=_verdict(step_value, ag, enr, len(names)),
        summary={"step": step_value, "n_runs": len(names), "n_tokens": int(len(idx)),
                 "pearson_mean": ag.pearson_mean, "spearman_mean": ag.spearman_mean,
                 "top_outlier_category": str(enr.iloc[0]["category"]),
                 "top_outlier_lift": float(enr.iloc[0]["lift"]),
                 "outlier_categories": [str(c) for c in enr.loc[enr["claimed"], "category"]],
                 "min_category_runs": MIN_CATEGORY_RUNS},
        tables={"pairs": _pair_table(ag, names, len(idx)), "outliers": out_df,
                "outlier_categories": enr.reset_index(drop=True)},
        figures=figs)


def _simulated(n_runs: int, seed: int, planted: bool) -> xr.Dataset:
    """64 sequences of 32 Zipf tokens (simulate.with_text) at 4 checkpoints. A token's difficulty
    is (0.5 + ln(1 + frequency rank)) nats times a lognormal(0, 0.3) scatter, so rare tokens are
    hard; each run's surprisal is the difficulty plus noise of sd 40 % of it (issue 14's null:
    noise grows with difficulty, no category has an effect). Planted: bracket tokens' noise is
    1.5 times that."""
    rng = np.random.default_rng(seed)
    ds = simulate.with_text(simulate.store(n_runs, simulate.log_steps(4), seed=seed), 64, 32, rng)
    ids = ds["tokens"].values
    difficulty = (0.5 + np.log1p(ids)) * rng.lognormal(0, 0.3, ids.shape)
    sd = 0.4 * difficulty
    if planted:
        bracket = np.isin(np.array(simulate.VOCAB, dtype=object)[ids], list(tokens.BRACKETS))
        sd = np.where(bracket, 1.5 * sd, sd)
    lp = -(difficulty + rng.normal(0, 1, (n_runs, 4, *ids.shape)) * sd)
    lp[..., 0] = np.nan
    return ds.assign(logprob=(("run", "step", "seq", "pos"), lp.astype(np.float32)))


SIMULATION = Simulation(
    null=lambda n, seed: _simulated(n, seed, False),
    planted=lambda n, seed: _simulated(n, seed, True),
    claims=lambda res: bool(res.summary.get("outlier_categories")),
    effect="bracket tokens disagreeing 1.5 times as much as their difficulty explains",
    options={"n_boot": 20})

ANALYSIS = Analysis(
    "agreement",
    "How much do runs agree on per-token log-probs, and on which tokens do they disagree?",
    label="A", section="differences", run=on_store(agreement),
    options=AgreementOptions, inputs=StoreInputs(needs=("logprob",)), simulation=SIMULATION)
