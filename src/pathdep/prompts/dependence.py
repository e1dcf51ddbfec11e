"""``prompt_dependence(suite)``: is output divergence due to the prompt, the run, or the sampler?

    from pathdep.prompts import prompt_dependence
    res = prompt_dependence("runs/demo", out="runs/demo.analysis")

For each run's chosen checkpoint (default: last), each prompt and each of its
surface variants, and each temperature: the next-token distribution and the
outcomes of ``m`` sampled continuations. The mean Jensen–Shannon divergence
between cells that differ in one factor only (prompt variant; training run;
temperature; for samples, two halves of one cell = sampling noise) is that
factor's part; its share is its part over the sum of parts. Intervals come
from the Multi-Bootstrap over runs and prompts, overall and per family.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pathdep.analysis import bootstrap
from pathdep.analysis.contract import Analysis, CheckpointInputs, Context
from pathdep.analysis.result import AnalysisResult
from pathdep.prompts.divergence import collect, components, outcome_dists
from pathdep.prompts.extractors import get_extractor
from pathdep.prompts.models import Loader, as_suite, each_lm
from pathdep.prompts.options import PromptDependenceOptions
from pathdep.prompts.promptsets import get_prompt_set

log = logging.getLogger(__name__)
NAME = "prompt_dependence"
COMPONENTS = ["variant", "run", "temperature", "noise"]
MEASURES = ["next_token", "outcome"]


def _parts(cells_by_prompt: list[list]) -> dict[str, dict[str, np.ndarray]]:
    """parts[measure][component]: (P, R) arrays, run: (P, R, R)."""
    out = {m: {c: [] for c in COMPONENTS} for m in MEASURES}
    for cells in cells_by_prompt:
        nt = components(np.stack([c.next_token for c in cells]))
        oc = components(outcome_dists(cells), (outcome_dists(cells, 0), outcome_dists(cells, 1)))
        for m, comp in (("next_token", nt), ("outcome", oc)):
            for c in COMPONENTS:
                out[m][c].append(comp[c])
    parts = {m: {c: np.array(v) for c, v in d.items()} for m, d in out.items()}
    parts["next_token"]["noise"][:] = np.nan  # exact distributions: no sampling noise
    return parts


def _nanmean(x: np.ndarray, axis) -> np.ndarray:
    cnt = np.isfinite(x).sum(axis)
    return np.where(cnt > 0, np.nansum(x, axis) / np.maximum(cnt, 1), np.nan)


def _share_stat(parts: dict[str, np.ndarray], rows: np.ndarray):
    """Statistic (runs, prompt weights) -> [mean JS of each component..., share of each...]."""
    def stat(r, w):
        means = []
        for c in COMPONENTS:
            x = parts[c][rows]
            per_p = _nanmean(x[:, r][:, :, r].reshape(len(rows), -1) if c == "run" else x[:, r], 1)
            ok = np.isfinite(per_p) & (w > 0)
            means.append((per_p[ok] * w[ok]).sum() / w[ok].sum() if ok.any() else np.nan)
        means = np.array(means)
        total = np.nansum(means)
        return np.r_[means, means / total if total > 0 else np.zeros_like(means)]

    return stat


def _estimates(parts, families: list[str], fam_of: np.ndarray, n_runs: int, n_boot: int,
               seed: int) -> pd.DataFrame:
    rows = []
    for m in MEASURES:
        for fam in ["all", *families]:
            idx = np.arange(len(fam_of)) if fam == "all" else np.flatnonzero(fam_of == fam)
            ivs = bootstrap.estimate_many(_share_stat(parts[m], idx), n_runs, len(idx),
                                          n_boot=n_boot, seed=seed)
            k = len(COMPONENTS)
            for c, mean, share in zip(COMPONENTS, ivs[:k], ivs[k:], strict=True):
                if np.isfinite(mean.value):
                    rows.append({"measure": m, "family": fam, "component": c, "mean_js": mean.value,
                                 "share": share.value, "low": share.low, "high": share.high,
                                 "_iv": share})
    return pd.DataFrame(rows)


def _per_prompt(parts, prompts) -> pd.DataFrame:
    rows = []
    for m in MEASURES:
        for c in COMPONENTS:
            x = parts[m][c]
            per_p = _nanmean(x.reshape(len(prompts), -1), 1)
            rows += [{"measure": m, "prompt_id": p.id, "family": p.family, "component": c,
                      "mean_js": float(v)} for p, v in zip(prompts, per_p, strict=True)
                     if np.isfinite(v)]
    return pd.DataFrame(rows)


def _summary(est: pd.DataFrame) -> dict:
    s: dict = {}
    for m in MEASURES:
        sub = est[(est.measure == m) & (est.family == "all")]
        for _, row in sub.iterrows():
            s[f"{m}_{row.component}_share"] = row["_iv"]
        if len(sub):
            s[f"{m}_dominant"] = str(sub.loc[sub["share"].idxmax(), "component"])
    return s


def _verdict(s: dict) -> str:
    said = []
    for m, label in (("next_token", "Next-token distributions"), ("outcome", "sampled outcomes")):
        if f"{m}_dominant" in s:
            d = s[f"{m}_dominant"]
            said.append(f"{label} diverge most by {d} (share {s[f'{m}_{d}_share']})")
    v = "; ".join(said) + "."
    pv = s.get("next_token_variant_share")
    rv = s.get("next_token_run_share")
    if pv is not None and rv is not None:
        more = "more" if pv.low > rv.high else ("less" if pv.high < rv.low else "about as much")
        v += f" The prompt's surface moves the next token {more} than the training run does."
    return v[0].upper() + v[1:]


def _figure(est: pd.DataFrame):
    import plotly.graph_objects as go

    sub = est[est.family == "all"]
    fig = go.Figure()
    for c in COMPONENTS:
        x = sub[sub.component == c]
        fig.add_bar(name=c, x=x["measure"], y=x["share"],
                    error_y={"type": "data", "symmetric": False, "array": x["high"] - x["share"],
                             "arrayminus": x["share"] - x["low"]})
    fig.update_layout(barmode="group", title="Share of output divergence by source",
                      yaxis_title="share of mean Jensen–Shannon divergence", yaxis_range=[0, 1])
    return fig


def prompt_dependence(suite, prompts=None, *, extractor=None, step: int | None = None,
                      temperatures: tuple[float, ...] = (0.7, 1.0, 1.3), m: int = 20,
                      max_new: int = 8, seed: int = 0, out: str | Path | None = None,
                      store: str | Path | None = None, loader: Loader | None = None,
                      n_boot: int = 500) -> AnalysisResult:
    """Decompose output divergence into prompt variant, run, temperature and sampling noise.

    ``prompts``: a prompt-set file or built-in name ('english', 'world'), or
    None for the suite's default. ``m`` continuations of ``max_new`` tokens
    per cell. Saved to ``out/prompt_dependence`` (or
    ``<store>.analysis/prompt_dependence``) when either is given.
    """
    suite = as_suite(suite)
    ps = get_prompt_set(prompts, suite)
    extract = get_extractor(extractor or ps.extractor)
    temps = [float(t) for t in temperatures]
    per_run, run_ids = [], []  # per_run[run][prompt] -> Cells
    for run, _, lm in each_lm(suite, step, loader):
        run_ids.append(run.id)
        per_run.append([collect(lm, list(p.variants().values()), temps, extract, m=m,
                                max_new=max_new, seed=seed, key=p.id) for p in ps.prompts])
    parts = _parts([[cells[i] for cells in per_run] for i in range(len(ps.prompts))])
    fam_of = np.array([p.family for p in ps.prompts])
    est = _estimates(parts, ps.families, fam_of, len(per_run), n_boot, seed)
    summ = _summary(est) | {"n_runs": len(per_run), "runs": run_ids, "n_prompts": len(ps.prompts),
                            "prompt_set": ps.name, "temperatures": temps}
    result = AnalysisResult(NAME, "prompt dependence", _verdict(summ), summ,
                            {"shares": est.drop(columns="_iv"),
                             "per_prompt": _per_prompt(parts, ps.prompts)},
                            {"shares": _figure(est)})
    root = Path(out) if out else (Path(f"{store}.analysis") if store else None)
    if root is not None:
        result.save(root / NAME)
    return result


def _run(ctx: Context, o: PromptDependenceOptions) -> AnalysisResult:
    return prompt_dependence(ctx.suite, o.prompts, extractor=o.extractor, step=o.step,
                             temperatures=tuple(o.temperature), m=o.m, max_new=o.max_new,
                             seed=o.seed, n_boot=o.n_boot)


ANALYSIS = Analysis(
    NAME,
    "Is output divergence due to the prompt's surface, the training run, the temperature or "
    "sampling noise?",
    label="", section="prompts", run=_run, options=PromptDependenceOptions,
    inputs=CheckpointInputs("each run's chosen checkpoint, sampled per prompt variant"),
    default=False, command="prompts")
