"""``forking_tokens(suite)``: forking tokens, survival curves and their overlap across runs.

    from pathdep.prompts import forking_tokens
    res = forking_tokens("runs/demo", prompts=["The capital of Zorvia is"], out="runs/demo.analysis")

For every run's chosen checkpoint and every prompt, ``forking.scan`` samples
the resamples (cached on disk per run, step, prompt and settings, so reruns
are free). With ``shared_base`` (default) every run resamples along the first
run's base path, so fork positions are comparable across runs. Whether runs
fork at different tokens is decided in ``fork_compare``: forks found in half
of each run's samples, compared between runs and within a run at the same
sample size, with a permutation test; it says when the suite cannot tell.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from pathdep.analysis import bootstrap
from pathdep.analysis.contract import Analysis, CheckpointInputs, Context, Simulation
from pathdep.analysis.result import AnalysisResult
from pathdep.atomic import write_json
from pathdep.prompts import fork_compare
from pathdep.prompts import forking as fk
from pathdep.prompts.extractors import get_extractor
from pathdep.prompts.models import LM, Loader, as_suite, each_lm
from pathdep.prompts.options import ForkingOptions
from pathdep.prompts.promptsets import PromptSet, get_prompt_set
from pathdep.prompts.simulate import suite_scans

log = logging.getLogger(__name__)
NAME = "forking_tokens"


@dataclass(frozen=True)
class ForkConfig:
    n: int = 30  # continuations per (index, alternative token)
    threshold: float = 0.05  # alternatives need p(w) ≥ threshold
    max_new: int = 32  # length of the base path, in tokens
    temperature: float = 1.0  # of the resamples (and the base, unless greedy_base)
    greedy_base: bool = False
    seed: int = 0
    drift: float = 0.3  # total-variation distance from o_0 counted as drift (survival)
    min_tv: float = 0.15  # smallest outcome shift a change point must make
    shared_base: bool = True  # all runs resample along the first run's base path


def _prompts(suite, prompts) -> tuple[list[tuple[str, str]], str]:
    if prompts is not None and not isinstance(prompts, (str, Path, PromptSet)):
        return [(f"p{i}", t) for i, t in enumerate(prompts)], "first_word"
    ps = get_prompt_set(prompts, suite)
    return [(p.id, p.text) for p in ps.prompts], ps.extractor


def _cached_scan(lm: LM, text: str, key: dict, cache: Path | None, extract, cfg, base):
    h = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]
    f = cache / f"{h}.json" if cache else None
    if f is not None and f.is_file():
        return fk.ForkScan.from_json(json.loads(f.read_text()))
    s = fk.scan(lm.model, lm.encode(text), lm.decode, extract, prompt=text, base=base,
                max_new=cfg.max_new, n=cfg.n, threshold=cfg.threshold,
                temperature=cfg.temperature, greedy_base=cfg.greedy_base, seed=cfg.seed,
                eos_id=lm.eos_id)
    if f is not None:
        write_json(f, s.to_json())
    return s


def _collect(suite, prompts, extract, ext_name, cfg, step, cache, loader):
    """scans[run_id][prompt_id] for every run's chosen checkpoint."""
    scans: dict[str, dict[str, fk.ForkScan]] = {}
    bases: dict[str, list[int]] = {}
    first_vocab = None
    for run, ckpt, lm in each_lm(suite, step, loader):
        first_vocab = first_vocab or lm.vocab
        share = cfg.shared_base and lm.vocab == first_vocab
        scans[run.id] = {}
        for pid, text in prompts:
            base = bases.get(pid) if share else None
            key = {"run": run.id, "step": ckpt.step, "where": ckpt.location, "prompt": text,
                   "cfg": asdict(cfg), "extractor": ext_name, "base": base}
            s = _cached_scan(lm, text, key, cache, extract, cfg, base)
            bases.setdefault(pid, s.base)
            scans[run.id][pid] = s
    return scans


def _analyse_scan(s: fk.ForkScan, cfg: ForkConfig) -> dict:
    cats = fk.categories(s)
    o = fk.outcome_series(s, cats)
    forks = fk.forks(o, fk.noise_var(s, o), min_tv=cfg.min_tv)
    halves = [fk.outcome_series(s, cats, half=h) for h in (0, 1)]
    hforks = [fk.forks(x, 2 * fk.noise_var(s, x), min_tv=cfg.min_tv) for x in halves]
    return {"cats": cats, "o": o, "forks": forks, "drift": fk.drift_index(o, cfg.drift),
            "halves": (hforks[0], hforks[1]), "split_half": fk.overlap(*hforks, tol=1),
            "base": list(s.base)}


def _tables(scans, res, prompts) -> dict[str, pd.DataFrame]:
    forks, series = [], []
    for rid, by_p in scans.items():
        for pid, _ in prompts:
            s, a = by_p[pid], res[rid][pid]
            for t in a["forks"]:
                ctx = "".join(s.tokens[max(0, t - 8):t + 1])
                forks.append({"run": rid, "prompt_id": pid, "index": t, "token": s.tokens[t],
                              "context": ctx})
            for t, row in enumerate(a["o"]):
                for c, pr in zip(a["cats"], row, strict=True):
                    series.append({"run": rid, "prompt_id": pid, "index": t,
                                   "token": s.tokens[t], "outcome": c, "prob": float(pr)})
    cols = ["run", "prompt_id", "index", "token", "context"]
    return {"forks": pd.DataFrame(forks, columns=cols), "outcome_series": pd.DataFrame(series)}


def _halves_by_prompt(res, runs, pids) -> dict:
    """halves[prompt][run]: half-sample forks, None where the run's base path is not the first's."""
    return {p: [res[r][p]["halves"] if res[r][p]["base"] == res[runs[0]][p]["base"] else None
                for r in runs] for p in pids}


def _between_overlap(halves, runs, pids) -> np.ndarray:
    """ov[p, i, j]: overlap of run i's and run j's half-sample forks (opposite halves, averaged)."""
    ov = np.full((len(pids), len(runs), len(runs)), np.nan)
    for k, pid in enumerate(pids):
        for i, a in enumerate(halves[pid]):
            for j, b in enumerate(halves[pid]):
                if i != j and a is not None and b is not None:
                    ov[k, i, j] = 0.5 * (fk.overlap(a[0], b[1], tol=1) +
                                         fk.overlap(a[1], b[0], tol=1))
    return ov


def _summary(res, runs, pids, cfg, n_boot) -> dict:
    has = np.array([[bool(res[r][p]["forks"]) for p in pids] for r in runs], dtype=float)
    nf = np.array([[len(res[r][p]["forks"]) for p in pids] for r in runs], dtype=float)
    sh = np.array([[res[r][p]["split_half"] for p in pids] for r in runs], dtype=float)

    def over_runs_items(m):
        return lambda r, w: float((m[r].mean(0) * w).sum() / w.sum())

    est = {k: bootstrap.estimate(over_runs_items(m), len(runs), len(pids), n_boot=n_boot,
                                 seed=cfg.seed) for k, m in
           {"frac_prompts_with_fork": has, "forks_per_prompt": nf, "split_half_overlap": sh}.items()}
    if len(runs) > 1:
        halves = _halves_by_prompt(res, runs, pids)
        ov = _between_overlap(halves, runs, pids)

        def between(r, w):
            m = ov[:, r][:, :, r].reshape(len(pids), -1)
            cnt = np.isfinite(m).sum(1)
            per_p = np.where(cnt > 0, np.nansum(m, 1) / np.maximum(cnt, 1), np.nan)
            ok = np.isfinite(per_p)
            return float((per_p[ok] * w[ok]).sum() / w[ok].sum()) if ok.any() else np.nan

        est["between_run_overlap"] = bootstrap.estimate(between, len(runs), len(pids),
                                                        n_boot=n_boot, seed=cfg.seed)
        est |= fork_compare.compare(halves, seed=cfg.seed, n_boot=n_boot)
    return est | {"n_runs": len(runs), "n_prompts": len(pids), "half_n": cfg.n // 2,
                  "settings": asdict(cfg)}


def _compare_sentence(s: dict) -> str:
    if not s.get("n_prompts_compared"):
        return " No prompt was resampled along a shared base path, so runs cannot be compared."
    b, w, d = s["between_run_overlap"], s["split_half_overlap"], s["within_minus_between"]
    nums = (f"overlap {b} between runs vs {w} within a run, both from {s['half_n']} samples per "
            f"branch; difference {d}, permutation p = {s['p_value']:.3g} over "
            f"{s['n_prompts_compared']} prompt{'s' if s['n_prompts_compared'] != 1 else ''})")
    if s["runs_fork_differently"]:
        return f" Runs fork at different tokens ({nums}."
    if s["p_value_if_disjoint"] >= s["alpha"]:
        return (f" This suite cannot tell whether runs fork at the same tokens: even runs "
                f"sharing no forking token would give p = {s['p_value_if_disjoint']:.3g} here "
                f"({nums}; more prompts or runs are needed.")
    if not s["runs_fork_alike"]:
        return (f" This suite cannot tell whether runs fork at the same tokens ({nums}: the "
                f"interval allows a difference of {s['margin']} or more.")
    return f" Runs fork at the same tokens as far as sampling noise shows ({nums}."


def _verdict(s: dict) -> str:
    v = (f"{s['frac_prompts_with_fork']} of base paths have a forking token "
         f"({s['forks_per_prompt']} per path).")
    if "between_run_overlap" in s:
        v += _compare_sentence(s)
    return v


def _survival(res, runs, pids, length) -> pd.DataFrame:
    drifts = [res[r][p]["drift"] for r in runs for p in pids]
    return pd.DataFrame({"index": np.arange(length), "survival": fk.survival(drifts, length)})


def _figure(surv: pd.DataFrame):
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=surv["index"], y=surv["survival"], mode="lines",
                               line_shape="hv", name="survival"))
    fig.update_layout(title="Outcome not yet drifted from o_0, by index", xaxis_title="index t",
                      yaxis_title="share of base paths", yaxis_range=[0, 1.05])
    return fig


def forking_tokens(suite, prompts=None, *, extractor=None, step: int | None = None,
                   config: ForkConfig | None = None, out: str | Path | None = None,
                   store: str | Path | None = None, cache: str | Path | None = None,
                   loader: Loader | None = None, n_boot: int = 500, **settings) -> AnalysisResult:
    """Forking tokens of every run's chosen checkpoint (default: last) on ``prompts``.

    ``prompts``: a list of strings, a prompt-set file or built-in name, or
    None (the suite's default set). ``settings`` override ``ForkConfig``
    fields. The result is saved to ``out/forking_tokens`` (or
    ``<store>.analysis/forking_tokens``) when either is given; samples are
    cached in ``cache`` (default ``<that folder>/.cache/forking``).
    """
    suite = as_suite(suite)
    cfg = replace(config or ForkConfig(), **settings)
    plist, default_ext = _prompts(suite, prompts)
    ext_spec = extractor or default_ext
    root = Path(out) if out else (Path(f"{store}.analysis") if store else None)
    cache = Path(cache) if cache else (root / ".cache" / "forking" if root else None)
    scans = _collect(suite, plist, get_extractor(ext_spec), getattr(ext_spec, "__qualname__",
                     ext_spec), cfg, step, cache, loader)
    result = from_scans(scans, plist, cfg, n_boot)
    if root is not None:
        result.save(root / NAME)
    return result


def from_scans(scans: dict[str, dict[str, fk.ForkScan]], prompts: list[tuple[str, str]],
               cfg: ForkConfig, n_boot: int = 500, figures: bool = True) -> AnalysisResult:
    """The analysis of scans already sampled: ``scans[run_id][prompt_id]`` (tests, calibration)."""
    runs, pids = list(scans), [p for p, _ in prompts]
    res = {r: {p: _analyse_scan(scans[r][p], cfg) for p in pids} for r in runs}
    length = max(len(scans[r][p].base) for r in runs for p in pids)
    summ = _summary(res, runs, pids, cfg, n_boot)
    surv = _survival(res, runs, pids, length)
    return AnalysisResult(NAME, "forking tokens", _verdict(summ), summ,
                          _tables(scans, res, prompts) | {"survival": surv},
                          {"survival": _figure(surv)} if figures else {})


def _config(o: ForkingOptions) -> ForkConfig:
    return ForkConfig(**{f: getattr(o, f) for f in ForkConfig.__dataclass_fields__})


def _run(ctx: Context, o: ForkingOptions) -> AnalysisResult:
    cfg = _config(o)
    return forking_tokens(ctx.suite, o.prompt or o.prompts, extractor=o.extractor, step=o.step,
                          config=cfg, cache=ctx.cache_dir("forking"), n_boot=o.n_boot)


SIMULATION = Simulation(
    null=lambda n, seed: suite_scans(n, 8, seed, planted=False),
    planted=lambda n, seed: suite_scans(n, 8, seed, planted=True),
    claims=lambda res: bool(res.summary.get("runs_fork_differently")),
    effect=("each run forking at its own 3 of 24 indices (outcome shifts of total variation 0.4; "
            "8 prompts, 30 samples a branch)"),
    options={"n_boot": 100},
    run=lambda scans, o: from_scans(scans, [(p, "?") for p in next(iter(scans.values()))],
                                    _config(o), o.n_boot, figures=False),
    size=lambda res: int(res.summary["n_runs"]))

ANALYSIS = Analysis(
    NAME,
    "Where does resampling one token change the outcome (forking tokens), and do runs fork at "
    "the same tokens?",
    label="", section="prompts", run=_run, options=ForkingOptions,
    inputs=CheckpointInputs("each run's chosen checkpoint, sampled many times"),
    simulation=SIMULATION, default=False, command="forking")
