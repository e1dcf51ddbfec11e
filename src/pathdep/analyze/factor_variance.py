"""B. Variance by factor: how much of each property's final value each grid factor explains.

Each property's final value per run (its last done checkpoint) is fitted by a
main-effects linear model on the run factors (``factor_*`` coordinates, each
treated as categorical: init seed, data-order seed, lr, size, intervention,
…). A factor's share is its type-II sum of squares (the rise in residual SS
when it alone is left out, as statsmodels' ``anova_lm(typ=2)`` computes for a
main-effects model) divided by the total SS; the residual share is the
full model's residual SS over the total (seed-to-seed noise of the factors
not in the grid, plus interactions; without replicated cells, the interaction
alone, and the verdict says so). The step at which each run's induction and
previous-token heads formed (as phase_changes dates it) is decomposed the same
way, as log10 step over the runs in which they formed (``formation:<role>``;
the runs where they did not are named, and with fewer than 3 such runs, or no
factor left with two levels among them, the role is left out and said to be).
In a balanced grid the shares and the
residual add up to 1. Factors with one level are dropped; a factor with a
different value for every run cannot be told apart from the residual and is
folded into it. Per-token loss is decomposed the same way, pooled over a
sample of tokens. Intervals: Multi-Bootstrap over runs (tokens too).

The verdict's claim is that a factor has an effect on a property's final value:
the type-II F-test of the main-effects model (Fox & Weisberg 2019, ch. 5; the
test ``anova_lm(typ=2)`` prints), Holm-adjusted over every property x factor
test (Holm 1979), at 0.05. The factor with the largest median share is named
either way, but without a significant test the verdict says that no factor's
share exceeds what seed noise gives. Without replicated cells the residual is
the factors' interaction, and the F-test against it assumes the factors add
(Tukey 1949's one-degree-of-freedom situation): the verdict says so; with no
residual degrees of freedom at all it says the suite cannot tell.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field
from scipy.stats import f as f_dist

from pathdep.analysis import bootstrap, data, figures, power, properties, simulate
from pathdep.analysis.contract import Analysis, BootOptions, Simulation, StoreInputs, on_store
from pathdep.analysis.properties import PROPS
from pathdep.analysis.result import AnalysisResult, Interval

log = logging.getLogger(__name__)
ALPHA = 0.05


def usable_factors(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Factors with ≥ 2 levels that do not identify every run."""
    n, out = ds.sizes["run"], {}
    for name, v in data.factors(ds).items():
        levels = len(set(v.tolist()))
        if levels < 2:
            continue
        if levels == n:
            log.info("factor %s has a different value for every run: counted as residual", name)
            continue
        out[name] = v
    return out


def _dummies(v: np.ndarray) -> np.ndarray:
    levels = sorted(set(v.tolist()))
    return np.stack([(v == lv).astype(float) for lv in levels[1:]], 1) if len(levels) > 1 \
        else np.zeros((len(v), 0))


def _rss(x: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> float:
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    res = (y - x @ beta) ** 2
    return float(res.sum(0) @ w) if w is not None and res.ndim == 2 else float(res.sum())


def decompose(fac: dict[str, np.ndarray], y: np.ndarray, w: np.ndarray | None = None) -> dict:
    """Type-II share of each factor and the residual share, for y (run,) or (run, item)."""
    ok = np.isfinite(y) if y.ndim == 1 else np.isfinite(y).all(1)
    y, fac = y[ok], {k: v[ok] for k, v in fac.items()}
    one = np.ones((len(y), 1))
    blocks = {k: _dummies(v) for k, v in fac.items()}
    full = np.hstack([one, *blocks.values()])
    total, rss_full = _rss(one, y, w), _rss(full, y, w)
    scale = float((y ** 2).sum(0) @ w) if w is not None and y.ndim == 2 else float((y ** 2).sum())
    if total <= 1e-12 * max(scale, 1e-300):  # no variance (round-off only): nothing to share
        return {**{k: np.nan for k in fac}, "residual": np.nan}
    out = {}
    for k in fac:
        reduced = np.hstack([one, *(b for j, b in blocks.items() if j != k)])
        out[k] = (_rss(reduced, y, w) - rss_full) / total
    out["residual"] = rss_full / total
    return out


def f_tests(fac: dict[str, np.ndarray], y: np.ndarray) -> dict[str, float]:
    """Type-II F-test p-value of each factor's main effect on y (run,); NaN without residual
    degrees of freedom."""
    ok = np.isfinite(y)
    y, fac = y[ok], {k: v[ok] for k, v in fac.items()}
    one = np.ones((len(y), 1))
    blocks = {k: _dummies(v) for k, v in fac.items()}
    full = np.hstack([one, *blocks.values()])
    df_res = len(y) - np.linalg.matrix_rank(full)
    rss_full = _rss(full, y, None)
    out = {}
    for k in fac:
        reduced = np.hstack([one, *(b for j, b in blocks.items() if j != k)])
        df_k = np.linalg.matrix_rank(full) - np.linalg.matrix_rank(reduced)
        if df_res < 1 or df_k < 1 or rss_full <= 0:
            out[k] = np.nan
            continue
        f = ((_rss(reduced, y, None) - rss_full) / df_k) / (rss_full / df_res)
        out[k] = float(f_dist.sf(f, df_k, df_res))
    return out


def holm(p: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (NaN stays NaN, not counted)."""
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok])]
    m = len(order)
    out[order] = np.minimum(1, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    return out


def replicated(fac: dict[str, np.ndarray]) -> bool:
    """Whether some combination of the factors' levels holds two or more runs.

    Without replicates (a 2x2 grid of seed x data order, one run per cell) the
    main-effects model's residual is the interaction of the factors alone: no
    run measures seed-to-seed noise apart from it.
    """
    cells = list(zip(*fac.values(), strict=True))
    return len(set(cells)) < len(cells)


def _rows(prop: str, fac: dict, y: np.ndarray, n_items: int | None, n_boot: int, seed: int):
    keys = [*fac, "residual"]

    def stat(r, w):
        d = decompose({k: v[r] for k, v in fac.items()}, y[r], w)
        # a share of 0 comes out as about -1e-16 from rounding: printed, it reads as negative
        return np.array([0.0 if abs(d[k]) < 1e-12 else d[k] for k in keys])

    ivs = bootstrap.estimate_many(stat, len(y), n_items, n_boot=n_boot, seed=seed)
    return [{"property": prop, "source": k, "share": i.value, "share_low": i.low, "share_high": i.high}
            for k, i in zip(keys, ivs, strict=True)]


def _final_tokens(ds: xr.Dataset, idx: np.ndarray) -> np.ndarray:
    """(run, token) log-probs at each run's last done step (NaN rows for runs with none)."""
    d = data.done(ds)
    return np.stack([data.snapshot(ds, "logprob", r, int(np.flatnonzero(d[r])[-1]), idx)
                     if d[r].any() else np.full(len(idx), np.nan) for r in range(d.shape[0])])


def _tested(rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The F-tests as a table with Holm-adjusted p-values, and the rows that reject."""
    tests = pd.DataFrame(rows, columns=["property", "factor", "p_value"])
    tests["p_holm"] = holm(tests["p_value"].to_numpy()) if len(tests) else []
    return tests, tests[tests["p_holm"] < ALPHA]


def _effects_text(found: pd.DataFrame, tests: pd.DataFrame, n_runs: int, reps: bool) -> str:
    """The claim: which factors have an effect beyond seed noise (Holm-adjusted F-tests)."""
    n = int(tests["p_value"].notna().sum())
    if not n:
        return ("no combination of factor levels is repeated, so no F-test separates a factor "
                "from noise: this suite cannot tell whether any factor has an effect.")
    if len(found):
        by = found.groupby("factor")["property"].count().sort_values(ascending=False)
        against = "" if reps else ", against the interaction, which assumes the factors add"
        return ("F-tests (Holm-adjusted over the " + f"{n} property x factor tests{against}) find an "
                "effect of " + "; ".join(f"{f} on {k} propert{'ies' if k != 1 else 'y'}"
                                         for f, k in by.items()) + ".")
    limit = power.cannot_tell("factor_variance", n_runs)
    return (f"no factor's share exceeds what seed noise gives (F-tests, Holm-adjusted over the "
            f"{n} property x factor tests)" + (f", {limit}." if limit else "."))


MIN_FORMED = 3  # runs in which a role formed, at least, to decompose its formation step


def _formation_rows(ds: xr.Dataset, fac: dict[str, np.ndarray], n_boot: int, seed: int
                    ) -> tuple[list[dict], dict[str, dict]]:
    """Rows for ``formation:<role>`` (log10 formation step, runs that formed) and, per role,
    ``{"runs": n formed, "not_formed": [run, ...], "skipped": reason or None}``."""
    from pathdep.analyze.phase_changes import formation_steps  # phase_changes dates formation

    runs = data.runs(ds)
    rows, info = [], {}
    for role, v in formation_steps(ds).items():
        ok = np.isfinite(v) & (v > 0)
        sub = {k: f[ok] for k, f in fac.items() if 2 <= len(set(f[ok].tolist())) < ok.sum()}
        reason = (None if ok.sum() >= MIN_FORMED and sub else
                  f"formed in {int(ok.sum())} run(s), fewer than {MIN_FORMED}"
                  if ok.sum() < MIN_FORMED else
                  "no grid factor has two levels, each repeated, among the runs where it formed")
        info[role] = {"runs": int(ok.sum()), "not_formed": [runs[i] for i in np.flatnonzero(~ok)],
                      "skipped": reason}
        if reason is None:
            rows += _rows(f"formation:{role}", sub, np.log10(v[ok]), None, n_boot, seed)
    return rows, info


def _formation_text(table: pd.DataFrame, info: dict[str, dict]) -> str:
    """' The formation step of induction heads (log10, 15 runs that formed; not in 1: ...): arch
    explains 0.6 [0.4, 0.8], residual 0.4 [...].' for each role measured."""
    out = []
    for role, d in info.items():
        what = f"{role.replace('_', '-')} heads"
        if d["skipped"]:
            out.append(f" The formation step of {what} is not decomposed: {d['skipped']}.")
            continue
        t = table[table["property"] == f"formation:{role}"]
        parts = [f"{r.source} explains {r.share:.2g} [{r.share_low:.2g}, {r.share_high:.2g}]"
                 for r in t.itertuples() if r.source != "residual"]
        res = t[t["source"] == "residual"]
        if len(res):
            r = res.iloc[0]
            parts.append(f"residual {r.share:.2g} [{r.share_low:.2g}, {r.share_high:.2g}]")
        missing = (f"; not formed in {len(d['not_formed'])}: {', '.join(d['not_formed'][:6])}"
                   f"{' ...' if len(d['not_formed']) > 6 else ''}" if d["not_formed"] else "")
        out.append(f" Of the formation step of {what} (log10 step, over the {d['runs']} runs "
                   f"where they formed{missing}), " + ", ".join(parts) + ".")
    return "".join(out)


class FactorVarianceOptions(BootOptions):
    """Options of :func:`factor_variance`."""

    max_tokens: int = Field(2000, ge=1, description=(
        "Tokens sampled for the per-token decomposition."))


def factor_variance(ds: xr.Dataset, options: FactorVarianceOptions | None = None,
                    **overrides) -> AnalysisResult:
    """Share of each property's final-value variance explained by each grid factor."""
    o = FactorVarianceOptions.build(options, **overrides)
    n_boot, seed, max_tokens = o.n_boot, o.seed, o.max_tokens
    fac = usable_factors(ds)
    if not fac:
        raise data.Skip("no run factor has repeated levels (nothing to decompose beyond the "
                        "between-run share that run_variance reports)")
    P = properties.available(ds)
    rows, tests = [], []
    for p in P["property"].values:
        y = properties.final_values(P.sel(property=p).values)
        rows += _rows(str(p), fac, y, None, n_boot, seed)
        tests += [{"property": str(p), "factor": k, "p_value": v}
                  for k, v in f_tests(fac, y).items()]
    if data.has_values(ds, "logprob"):
        y = _final_tokens(ds, data.sample_tokens(ds, max_tokens, seed))
        rows += _rows("tokens:logprob", fac, y, y.shape[1], n_boot, seed)
    formation, formation_info = ([], {}) if not data.has_values(ds, "head_score") else \
        _formation_rows(ds, fac, n_boot, seed)
    if not rows:
        raise data.Skip("no property varies over runs")
    table = pd.DataFrame(rows + formation)
    finals = table[~table["property"].str.startswith("formation:")]
    med = finals.groupby("source")["share"].median().sort_values(ascending=False)
    top = med.drop("residual", errors="ignore")
    reps = replicated(fac)
    residual = ("seed noise and interactions" if reps else
                "the interaction of the factors: no combination of levels is repeated, so no run "
                "measures noise apart from it")
    tests, found = _tested(tests)
    verdict = (f"Across {finals['property'].nunique()} properties, the factor explaining most "
               f"final-value variance is {top.index[0]} (median share {top.iloc[0]:.2g}); the "
               f"residual ({residual}) has median share {med.get('residual', np.nan):.2g}"
               f"{properties.chance_note(P)}; " + _effects_text(found, tests, ds.sizes["run"], reps)
               + _formation_text(table, formation_info))
    fig = figures.bars(table, "property", "share", "source", title="Share of variance by factor",
                       err=("share_low", "share_high"))
    summary = {"factors": list(fac), "replicated": reps, "n_runs": int(ds.sizes["run"]),
               "factor_effects": [f"{r.factor} on {r.property}" for r in found.itertuples()],
               "at_chance": P.attrs.get("at_chance", []),
               "median_share": {k: float(v) for k, v in med.items()},
               "formation": formation_info}
    for _, r in table.iterrows():
        summary.setdefault("shares", {}).setdefault(r["property"], {})[r["source"]] = \
            Interval(r["share"], r["share_low"], r["share_high"])
    return AnalysisResult(name="factor_variance", question="B (sensitivity to the setup)",
                          verdict=verdict, summary=summary,
                          tables={"shares": table, "f_tests": tests},
                          figures={"shares": fig})


def _simulated(n_runs: int, seed: int, planted: bool) -> xr.Dataset:
    """Six behaviour probes (final values normal, sd 0.05 across runs; simulate.property_curves)
    over a grid of two factors, lr and data order, with 2 levels each, runs assigned in turn
    (so cells repeat from 5 runs); planted: the higher lr raises the first probe's final value
    by 2 sd of the seed noise."""
    rng = np.random.default_rng(seed)
    i = np.arange(n_runs)
    lr, order = i % 2, (i // 2) % 2
    curves = simulate.property_curves(n_runs, 12, np.full(6, 0.05), np.zeros(6), rng)
    if planted:
        curves["p0"] = curves["p0"] + 0.1 * lr[:, None] * np.linspace(0, 1, 12)[None] ** 2
    ds = simulate.store(n_runs, simulate.log_steps(12), seed=seed,
                        factors={"seed": list(i), "lr": list(lr), "data_order": list(order)})
    return simulate.with_behavior(ds, curves)


SIMULATION = Simulation(
    null=lambda n, seed: _simulated(n, seed, False),
    planted=lambda n, seed: _simulated(n, seed, True),
    claims=lambda res: bool(res.summary.get("factor_effects")),
    effect="lr raising one of 6 properties' final value by 2 sd of the seed noise",
    options={"n_boot": 20})

ANALYSIS = Analysis(
    "factor_variance",
    "B: how much of each property's variance does each grid factor explain?",
    label="B", section="differences", run=on_store(factor_variance),
    options=FactorVarianceOptions, inputs=StoreInputs(any_of=(*PROPS, "logprob"), min_runs=3),
    simulation=SIMULATION)
