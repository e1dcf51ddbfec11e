"""``prompt_dependence(suite)``: is output divergence due to the prompt, the run, or the sampler?

    from pathdep.prompts import prompt_dependence
    res = prompt_dependence("runs/demo", out="runs/demo.analysis")

For each run's chosen checkpoint (default: last), each prompt and each of its
surface variants, and each temperature: the next-token distribution and the
outcomes of ``m`` sampled continuations. The mean Jensen–Shannon divergence
between cells that differ in one factor only (prompt variant; training run;
temperature) is that factor's divergence. Sampled outcomes are corrected for
the divergence sampling alone gives at their sample sizes (``divergence``:
the same-distribution floor, which is also the "noise" row: two samplings of
one cell, m vs m). JS is not additive, so the components are reported side
by side in bits, not as shares of a total. Intervals come from the
Multi-Bootstrap over runs and prompts, overall and per family; a component is
claimed only when its corrected interval excludes 0.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pathdep.analysis import bootstrap
from pathdep.analysis.contract import Analysis, CheckpointInputs, Context, Simulation
from pathdep.analysis.result import AnalysisResult
from pathdep.prompts.divergence import Cells, collect, components, outcome_dists
from pathdep.prompts.extractors import get_extractor
from pathdep.prompts.models import Loader, as_suite, each_lm
from pathdep.prompts.options import PromptDependenceOptions
from pathdep.prompts.promptsets import Prompt, get_prompt_set
from pathdep.prompts.simulate import MOVED, suite_cells

log = logging.getLogger(__name__)
NAME = "prompt_dependence"
COMPONENTS = ["variant", "run", "temperature", "noise"]
EFFECTS = COMPONENTS[:3]  # noise is the floor itself, never claimed
MEASURES = ["next_token", "outcome"]
LABEL = {"variant": "the prompt variant", "run": "the training run",
         "temperature": "the temperature"}


def _parts(cells_by_prompt: list[list[Cells]], seed: int = 0) -> dict:
    """parts[measure][kind][component]: (P, R) arrays (run: (P, R, R)); kind 'js' or 'floor'."""
    out = {m: {k: {c: [] for c in COMPONENTS} for k in ("js", "floor")} for m in MEASURES}
    for i, cells in enumerate(cells_by_prompt):
        n = len(cells[0].outcomes[0][0])
        nt = components(np.stack([c.next_token for c in cells]))
        oc = components(outcome_dists(cells), n=n, seed=seed + i)
        for m, comp in (("next_token", nt), ("outcome", oc)):
            for c in COMPONENTS:
                out[m]["js"][c].append(comp[c][0])
                out[m]["floor"][c].append(comp[c][1])
    return {m: {k: {c: np.array(v) for c, v in d.items()} for k, d in kd.items()}
            for m, kd in out.items()}


def _nanmean(x: np.ndarray, axis) -> np.ndarray:
    cnt = np.isfinite(x).sum(axis)
    return np.where(cnt > 0, np.nansum(x, axis) / np.maximum(cnt, 1), np.nan)


def _stat(parts: dict, rows: np.ndarray):
    """Statistic (runs, prompt weights) -> [corrected..., observed..., floor...] per component."""
    def mean_of(x, c, r, w):
        x = x[rows]
        per_p = _nanmean(x[:, r][:, :, r].reshape(len(rows), -1) if c == "run" else x[:, r], 1)
        ok = np.isfinite(per_p) & (w > 0)
        return (per_p[ok] * w[ok]).sum() / w[ok].sum() if ok.any() else np.nan

    def stat(r, w):
        obs = [mean_of(parts["js"][c], c, r, w) for c in COMPONENTS]
        flo = [mean_of(parts["floor"][c], c, r, w) for c in COMPONENTS]
        cor = [o - f if c != "noise" else np.nan for c, o, f in zip(COMPONENTS, obs, flo,
                                                                     strict=True)]
        return np.r_[cor, obs, flo]

    return stat


def _estimates(parts, families: list[str], fam_of: np.ndarray, n_runs: int, n_boot: int,
               seed: int) -> pd.DataFrame:
    rows = []
    k = len(COMPONENTS)
    for m in MEASURES:
        for fam in ["all", *families]:
            idx = np.arange(len(fam_of)) if fam == "all" else np.flatnonzero(fam_of == fam)
            ivs = bootstrap.estimate_many(_stat(parts[m], idx), n_runs, len(idx),
                                          n_boot=n_boot, seed=seed)
            for i, c in enumerate(COMPONENTS):
                cor, obs, flo = ivs[i], ivs[k + i], ivs[2 * k + i]
                if not np.isfinite(obs.value):
                    continue
                iv = obs if c == "noise" else cor
                rows.append({"measure": m, "family": fam, "component": c,
                             "js_bits": obs.value, "floor_bits": flo.value,
                             "corrected_bits": cor.value, "low": iv.low, "high": iv.high,
                             "claimed": bool(c != "noise" and iv.low > 0), "_iv": iv})
    return pd.DataFrame(rows)


def _per_prompt(parts, prompts: list[Prompt]) -> pd.DataFrame:
    rows = []
    for m in MEASURES:
        for c in COMPONENTS:
            o = _nanmean(parts[m]["js"][c].reshape(len(prompts), -1), 1)
            f = _nanmean(parts[m]["floor"][c].reshape(len(prompts), -1), 1)
            rows += [{"measure": m, "prompt_id": p.id, "family": p.family, "component": c,
                      "js_bits": float(a), "floor_bits": float(b),
                      "corrected_bits": float(a - b) if c != "noise" else np.nan}
                     for p, a, b in zip(prompts, o, f, strict=True) if np.isfinite(a)]
    return pd.DataFrame(rows)


def _summary(est: pd.DataFrame) -> dict:
    s: dict = {}
    for m in MEASURES:
        sub = est[(est.measure == m) & (est.family == "all")]
        for _, row in sub.iterrows():
            key = "floor" if row.component == "noise" else "corrected"
            s[f"{m}_{row.component}_{key}"] = row["_iv"]
        s[f"{m}_claimed"] = [str(c) for c in sub.loc[sub["claimed"], "component"]]
    return s


def _measure_sentence(s: dict, m: str, label: str) -> str | None:
    got = [c for c in EFFECTS if f"{m}_{c}_corrected" in s]
    if not got:
        return None

    def part(cs):
        return " and ".join(f"{LABEL[c]} ({s[f'{m}_{c}_corrected']} bits)" for c in cs)

    yes = [c for c in got if c in s[f"{m}_claimed"]]
    no = [c for c in got if c not in yes]
    v = f"{label} diverge with {part(yes)}" if yes else f"{label} diverge with no factor"
    if no:
        v += f"; the interval includes 0 for {part(no)}"
    if f"{m}_noise_floor" in s:
        v += (f" (sampling alone: two samplings of one cell, {s['m']} vs {s['m']}, differ by "
              f"{s[f'{m}_noise_floor']} bits, subtracted above)")
    return v


def _verdict(s: dict) -> str:
    said = [x for m, label in (("next_token", "Next-token distributions"),
                               ("outcome", "sampled outcomes, beyond sampling noise,"))
            if (x := _measure_sentence(s, m, label))]
    v = "Corrected Jensen–Shannon divergence: " + "; ".join(said) + "."
    pv, rv = s.get("next_token_variant_corrected"), s.get("next_token_run_corrected")
    if pv is not None and rv is not None and np.isfinite([pv.low, rv.high]).all():
        more = "more" if pv.low > rv.high else ("less" if pv.high < rv.low else "about as much")
        v += f" The prompt's surface moves the next token {more} than the training run does."
    return v


def _figure(est: pd.DataFrame):
    import plotly.graph_objects as go

    sub = est[est.family == "all"]
    fig = go.Figure()
    for c in COMPONENTS:
        x = sub[sub.component == c]
        y = x["js_bits"] if c == "noise" else x["corrected_bits"]
        fig.add_bar(name=c if c != "noise" else "sampling floor", x=x["measure"], y=y,
                    error_y={"type": "data", "symmetric": False, "array": x["high"] - y,
                             "arrayminus": y - x["low"]})
    fig.update_layout(barmode="group", title="Divergence beyond sampling noise, by source",
                      yaxis_title="corrected Jensen–Shannon divergence, bits")
    return fig


def from_cells(cells_by_prompt: list[list[Cells]], prompts: list[Prompt], families: list[str],
               run_ids: list[str], *, m: int, n_boot: int = 500, seed: int = 0,
               figures: bool = True, **info) -> AnalysisResult:
    """The analysis of cells already sampled: ``cells_by_prompt[prompt][run]`` (tests too)."""
    parts = _parts(cells_by_prompt, seed)
    fam_of = np.array([p.family for p in prompts])
    est = _estimates(parts, families, fam_of, len(run_ids), n_boot, seed)
    summ = _summary(est) | {"n_runs": len(run_ids), "runs": run_ids, "n_prompts": len(prompts),
                            "m": m} | info
    return AnalysisResult(NAME, "prompt dependence", _verdict(summ), summ,
                          {"divergence": est.drop(columns="_iv"),
                           "per_prompt": _per_prompt(parts, prompts)},
                          {"divergence": _figure(est)} if figures else {})


def prompt_dependence(suite, prompts=None, *, extractor=None, step: int | None = None,
                      temperatures: tuple[float, ...] = (0.7, 1.0, 1.3), m: int = 20,
                      max_new: int = 8, seed: int = 0, out: str | Path | None = None,
                      store: str | Path | None = None, loader: Loader | None = None,
                      n_boot: int = 500) -> AnalysisResult:
    """Output divergence due to prompt variant, run and temperature, beyond sampling noise.

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
    result = from_cells([[cells[i] for cells in per_run] for i in range(len(ps.prompts))],
                        ps.prompts, ps.families, run_ids, m=m, n_boot=n_boot, seed=seed,
                        prompt_set=ps.name, temperatures=temps)
    root = Path(out) if out else (Path(f"{store}.analysis") if store else None)
    if root is not None:
        result.save(root / NAME)
    return result


def _run(ctx: Context, o: PromptDependenceOptions) -> AnalysisResult:
    return prompt_dependence(ctx.suite, o.prompts, extractor=o.extractor, step=o.step,
                             temperatures=tuple(o.temperature), m=o.m, max_new=o.max_new,
                             seed=o.seed, n_boot=o.n_boot)


def _simulated(cells_prompts, o: PromptDependenceOptions) -> AnalysisResult:
    cells, prompts = cells_prompts
    return from_cells(cells, prompts, ["f"], [f"r{i}" for i in range(len(cells[0]))], m=20,
                      n_boot=o.n_boot, seed=o.seed, figures=False)


SIMULATION = Simulation(
    null=lambda n, seed: suite_cells(n, 6, seed),
    planted=lambda n, seed: suite_cells(n, 6, seed, moved=MOVED),
    claims=lambda res: bool(res.summary["outcome_claimed"]),
    effect=("the second prompt variant's outcomes at JS 0.0269 bits from the first's (6 "
            "prompts, 2 variants x 2 temperatures, 20 samples a cell)"),
    options={"n_boot": 200},
    run=_simulated,
    size=lambda res: int(res.summary["n_runs"]))

ANALYSIS = Analysis(
    NAME,
    "Is output divergence due to the prompt's surface, the training run, the temperature or "
    "sampling noise?",
    label="", section="prompts", run=_run, options=PromptDependenceOptions,
    inputs=CheckpointInputs("each run's chosen checkpoint, sampled per prompt variant"),
    simulation=SIMULATION, default=False, command="prompts")
