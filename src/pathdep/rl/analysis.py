"""Is RL fine-tuning more path-dependent than pre-training? (issue 7 item 4, seed 000)

    from pathdep.rl.analysis import rl_paths
    rl_paths("runs/spell")  # [rl] of the suite's spec; saved in <suite>/measurements.zarr.analysis

One base checkpoint is fine-tuned with every RL seed (``pathdep.rl.grpo``) on
a task whose reward depends only on correctness while the answer has two
interchangeable forms (world-spelling: the standard or the variant spelling
of a fact's value). The quantity is the share of form A (the standard
spelling), share_A = mean over held-out prompts of pA / (pA + pB). Across RL
seeds: its final value per seed, Hartigan's dip test of unimodality (Hartigan
& Hartigan 1985, Ann. Statist. 13(1), through the ``diptest`` package), the
share of seeds ending on each form, and from which RL step on the current
share predicts the final form (share > 0.5 vs < 0.5) for every seed (and for
≥ 90% of them). Beside it, the same share on the last checkpoint of every
grid run of the suite: the spread across pre-training seeds. Spreads (std,
range) carry bootstrap intervals over seeds (``pathdep.analysis.bootstrap``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pathdep.analysis import power
from pathdep.analysis.bootstrap import N_BOOT, interval, mean_over_runs, replicates
from pathdep.analysis.contract import Analysis, CheckpointInputs, Context, Simulation
from pathdep.analysis.result import AnalysisResult
from pathdep.analysis.simulate_checkpoints import rl_shares
from pathdep.errors import PathdepError
from pathdep.models import load_model, load_tokenizer
from pathdep.rl.grpo import eval_subset, form_share, rl_device, run_seed
from pathdep.rl.options import RLOptions
from pathdep.rl.task import FormTask, make_task
from pathdep.spec import RLSpec
from pathdep.suites import Suite, load_suite
from pathdep.suites.run_ids import unknown_run_message

log = logging.getLogger(__name__)
NAME = "rl_paths"
QUESTION = "RL (fine-tuning path dependence)"


def _std(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.std(x, ddof=1)) if x.size > 1 else float("nan")


def _range(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.max() - x.min()) if x.size else float("nan")


def _min(x: np.ndarray) -> float:
    return float(np.nanmin(x)) if np.isfinite(x).any() else float("nan")


def _max(x: np.ndarray) -> float:
    return float(np.nanmax(x)) if np.isfinite(x).any() else float("nan")


def _base(suite, cfg: RLSpec):
    if cfg.base is not None:
        try:
            run = suite.run(cfg.base)
        except KeyError:
            raise PathdepError("[rl] base: " + unknown_run_message(
                cfg.base, suite.run_ids, f"suite {suite.name!r}")) from None
    else:
        run = suite.runs[0]
    if not run.checkpoints:
        raise PathdepError(f"run {run.id!r} has no checkpoints; train the suite first")
    if cfg.step is None:
        return run, run.checkpoints[-1]
    try:
        return run, run.checkpoint(cfg.step)
    except KeyError:
        raise PathdepError(f"[rl] step = {cfg.step} is not a checkpoint of run {run.id!r}; its "
                           f"steps are {run.steps[:10]}{'...' if len(run.steps) > 10 else ''}"
                           ) from None


PATH_FACTORS = ("seed", "data_seed")  # what may differ between the base and its peers


def _grid_runs(suite, base=None) -> list:
    """Grid runs with checkpoints; with ``base``, only those that differ from it in init
    seed and data order alone (a learning-rate or architecture variant is not another
    draw of the same pre-training path, so it would inflate the spread: issue 14)."""
    runs = [r for r in suite.runs if not r.factors.get("parent") and r.checkpoints]
    if base is None:
        return runs
    keys = (set(base.factors) | {k for r in runs for k in r.factors}) - set(PATH_FACTORS)
    same = lambda r: all(str(r.factors.get(k)) == str(base.factors.get(k)) for k in keys)  # noqa: E731
    return [r for r in runs if same(r)]


def _pretrain_shares(suite, task: FormTask, base=None, cfg: RLSpec | None = None
                     ) -> pd.DataFrame:
    """share_A on held-out and training prompts at the last checkpoint of every grid run
    that differs from ``base`` only in seed and data order (on ``cfg``'s device)."""
    held, train = eval_subset(task.heldout), eval_subset(task.train)
    dev, amp = rl_device(cfg or RLSpec())
    rows = []
    for run in _grid_runs(suite, base):
        ck = run.checkpoints[-1]
        model, tok = load_model(run, ck).to(dev), load_tokenizer(run, ck)
        with amp():
            rows.append({"run": run.id, "step": ck.step,
                         "share_heldout": form_share(model, tok, held) if held else np.nan,
                         "share_train": form_share(model, tok, train)})
        del model
    return pd.DataFrame(rows)


def _trajectories(trajs: list[dict]) -> pd.DataFrame:
    rows = []
    for t in trajs:
        for e in t["evals"]:
            rows.append({"seed": t["seed"], "step": e["step"], "reward": e.get("reward"),
                         "share_heldout": e["share_heldout"], "share_train": e["share_train"],
                         "heldout_reward": e["heldout_reward"],
                         "correct_share_A": e["correct_share_A"]})
    df = pd.DataFrame(rows)
    return df.astype({c: float for c in df.columns if c not in ("seed", "step")})


def predictability(traj: pd.DataFrame, col: str) -> pd.DataFrame:
    """Per RL eval step: accuracy across seeds of predicting the final form from share > 0.5."""
    wide = traj.pivot(index="step", columns="seed", values=col).sort_index()
    final = wide.iloc[-1] > 0.5
    acc = (wide > 0.5).eq(final, axis=1).mean(axis=1)
    return pd.DataFrame({"step": wide.index, "accuracy": acc.to_numpy(),
                         "n_seeds": wide.notna().sum(axis=1).to_numpy()})


def stays_from(pred: pd.DataFrame, level: float) -> int | None:
    """The first step from which the accuracy stays >= ``level`` to the end."""
    ok = (pred["accuracy"] >= level - 1e-12).to_numpy()
    if not ok[-1]:
        return None
    k = len(ok)
    while k > 0 and ok[k - 1]:
        k -= 1
    return int(pred["step"].iloc[k])


def _dip(x: np.ndarray) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if x.size < 4:
        return float("nan"), float("nan")
    import diptest

    dip, p = diptest.diptest(x)
    return float(dip), float(p)


def _ratio(rl: np.ndarray, pre: np.ndarray, n_boot: int, seed: int):
    """std(RL) / std(pre-training), resampling both sets of seeds independently."""
    if np.isfinite(rl).sum() < 2 or np.isfinite(pre).sum() < 2 or _std(pre) == 0:
        return None
    a = replicates(lambda r, w: _std(rl[r]), len(rl), n_boot=n_boot, seed=seed)
    b = replicates(lambda r, w: _std(pre[r]), len(pre), n_boot=n_boot, seed=seed + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        reps = a / b
    return interval(_std(rl) / _std(pre), reps)


def _spreads(rl_x: np.ndarray, pre_x: np.ndarray, n_boot: int, seed: int) -> dict:
    """Final shares across RL seeds and across pre-training runs: spread, bimodality, sides."""
    dip, dip_p = _dip(rl_x)
    ends_a = float(np.mean(rl_x > 0.5))
    std_fn = lambda v: _std(np.asarray(v))  # noqa: E731
    return {
        "n_rl_seeds": len(rl_x),
        "rl_final_share_A": mean_over_runs(rl_x, n_boot=n_boot, seed=seed),
        "rl_std": mean_over_runs(rl_x, n_boot=n_boot, seed=seed, fn=std_fn),
        "rl_range": _range(rl_x), "rl_min": _min(rl_x), "rl_max": _max(rl_x),
        "share_seeds_form_A": ends_a, "share_seeds_form_B": 1 - ends_a,
        "dip": dip, "dip_p": dip_p,
        "n_pretrain_runs": len(pre_x),
        "pretrain_share_A_mean": float(np.nanmean(pre_x)) if len(pre_x) else float("nan"),
        "pretrain_std": mean_over_runs(pre_x, n_boot=n_boot, seed=seed, fn=std_fn)
        if len(pre_x) else None,
        "pretrain_range": _range(pre_x), "pretrain_min": _min(pre_x), "pretrain_max": _max(pre_x),
        "std_ratio_rl_to_pretrain": _ratio(rl_x, pre_x, n_boot, seed),
    }


def _figures(traj: pd.DataFrame, finals: pd.DataFrame, pre: pd.DataFrame, col: str) -> dict:
    import plotly.graph_objects as go

    fig = go.Figure()
    for s, g in traj.groupby("seed"):
        fig.add_trace(go.Scatter(x=g["step"], y=g[col], mode="lines+markers", name=f"RL seed {s}"))
    fig.add_hline(y=0.5, line_dash="dot")
    fig.update_layout(title="Share of form A (standard spelling) over RL steps, per RL seed",
                      xaxis_title="RL step", yaxis_title="share of form A", yaxis_range=[0, 1])
    side = go.Figure()
    side.add_trace(go.Box(y=pre[col], name=f"pre-training runs ({len(pre)})", boxpoints="all",
                          text=pre["run"], pointpos=0, jitter=0.4))
    side.add_trace(go.Box(y=finals[col], name=f"RL seeds ({len(finals)})", boxpoints="all",
                          text=[f"seed {s}" for s in finals["seed"]], pointpos=0, jitter=0.4))
    side.update_layout(title="Final share of form A: pre-training seeds vs RL seeds",
                       yaxis_title="share of form A", yaxis_range=[0, 1], showlegend=False)
    return {"share_over_rl_steps": fig, "final_shares": side}


def _fmt_step(s) -> str:
    return "never" if s is None else f"step {s}"


def rl_paths(suite, cfg: RLSpec | None = None, out: str | Path | None = None, *,
             n_boot: int = N_BOOT, seed: int = 0, normalize: bool = True,
             save: bool = True) -> AnalysisResult:
    """Run (or reuse) every RL seed of ``cfg`` and compare RL's spread with pre-training's.

    ``suite``: a Suite or a trained suite folder; ``cfg``: default the suite
    spec's ``[rl]`` section (or RLSpec defaults). Seeds are kept under
    ``<suite>/rl/<base>@<step>/seed<k>/`` and reused; the result is saved to
    ``out/rl_paths`` (``out`` default ``<suite>/measurements.zarr.analysis``) unless
    ``save`` is False (``pathdep.analyze`` saves it itself).
    """
    suite = suite if isinstance(suite, Suite) else load_suite(suite)
    if cfg is None:
        cfg = RLSpec.model_validate(((suite.meta or {}).get("spec") or {}).get("rl") or {})
    rl_device(cfg)  # a device or dtype that is not there fails before any seed runs
    task = make_task(cfg.task, suite)
    run, ck = _base(suite, cfg)
    if not ck.path:
        raise PathdepError(f"the base checkpoint {ck.location} is not a local folder; RL "
                           "fine-tunes checkpoints of suites trained here")
    folder = Path(suite.root) / "rl" / f"{run.id}@{ck.step}"
    trajs = [run_seed(ck.path, task, cfg, s, folder / f"seed{s}", normalize=normalize)
             for s in cfg.seeds]
    col = "share_heldout" if task.heldout else "share_train"
    traj = _trajectories(trajs)
    pre = _pretrain_shares(suite, task, run, cfg)
    head = {"task": task.name,
            "quantity": f"share of form A ({'held-out' if task.heldout else 'training'} prompts)",
            "base": run.id, "base_step": ck.step, "rl_steps": cfg.steps,
            "pretrain_left_out": sorted({r.id for r in _grid_runs(suite)} - set(pre["run"]))}
    result = decide(traj, pre, col, head, n_boot=n_boot, seed=seed)
    if save:
        out = Path(out) if out is not None else Path(suite.root) / "measurements.zarr.analysis"
        result.save(out / NAME)
    log.info("%s", result.verdict)
    return result


def decide(traj: pd.DataFrame, pre: pd.DataFrame, col: str, head: dict, *, n_boot: int,
           seed: int, figures: bool = True) -> AnalysisResult:
    """The spreads, the predictability and the verdict from the RL seeds' trajectories and the
    pre-training runs' shares (``col`` of both). :func:`rl_paths` calls it on fine-tuned seeds,
    the calibration (:data:`SIMULATION`) on simulated ones. ``head``: task, quantity, base,
    base_step, rl_steps, pretrain_left_out."""
    finals = traj[traj["step"] == traj.groupby("seed")["step"].transform("max")]
    finals = finals.reset_index(drop=True)
    pred = predictability(traj, col)
    summary = {**head, "base_share_A": float(traj.loc[traj["step"] == 0, col].iloc[0]),
               "rl_final_reward": float(finals["reward"].mean())}
    summary |= _spreads(finals[col].to_numpy(float), pre[col].to_numpy(float), n_boot, seed)
    summary |= {"predictable_from_step": stays_from(pred, 1.0),
                "predictable_90_from_step": stays_from(pred, 0.9),
                "predictable_levels": [1.0, 0.9]}
    return AnalysisResult(NAME, QUESTION, _verdict(summary, summary["std_ratio_rl_to_pretrain"]),
                          summary, tables={"trajectories": traj, "finals": finals,
                                           "pretraining": pre, "predictability": pred},
                          figures=_figures(traj, finals, pre, col) if figures else {})


def _verdict(s: dict, ratio) -> str:
    n, m = s["n_rl_seeds"], s["n_pretrain_runs"]
    k = round(s["share_seeds_form_A"] * n)
    bimodal = ("too few seeds for the dip test" if s["dip_p"] != s["dip_p"] else
               f"dip test p = {s['dip_p']:.2f}: "
               + ("bimodal" if s["dip_p"] < 0.05 else "no evidence of bimodality"))
    spread = (f"across {m} pre-training runs it lies between {s['pretrain_min']:.2f} and "
              f"{s['pretrain_max']:.2f} (std {s['pretrain_std']})" if m > 1 else
              f"with {m} pre-training run the pre-training spread is not measurable")
    if s.get("pretrain_left_out"):
        lo = s["pretrain_left_out"]
        spread += (f" (runs that differ from {s['base']} in more than seed and data order are "
                   f"left out: {', '.join(lo[:4])}{' ...' if len(lo) > 4 else ''})")
    comp = ""
    if ratio is not None:
        more = "more" if ratio.low > 1 else "less" if ratio.high < 1 else "not clearly more"
        comp = (f"; the RL spread is {ratio.value:.2f}x the pre-training spread (std ratio "
                f"[{ratio.low:.2f}, {ratio.high:.2f}]): RL fine-tuning is {more} path-dependent "
                "on this quantity")
        limit = None if ratio.low > 1 else power.cannot_tell(NAME, min(n, m))
        comp += f", {limit}" if limit else ""
    same = k in (0, n)
    when = (f"The eventual form is predicted for every seed from "
            f"{_fmt_step(s['predictable_from_step'])} on (for ≥90% from "
            f"{_fmt_step(s['predictable_90_from_step'])})"
            + (", trivially, as every seed ends on the same form." if same else "."))
    return (f"Across {n} RL seeds of {s['rl_steps']} steps from {s['base']}@{s['base_step']} "
            f"(start share {s['base_share_A']:.2f}, final training reward "
            f"{s['rl_final_reward']:.2f}), the final {s['quantity']} "
            f"lies between {s['rl_min']:.2f} and {s['rl_max']:.2f} (std {s['rl_std']}), {k} of "
            f"{n} seeds ending on form A ({bimodal}); {spread}{comp}. {when}")


def _applies(ctx: Context, o: RLOptions) -> str | None:
    if NAME in ctx.requested or RLOptions.from_context(ctx):
        return None
    return "the suite's spec has no [rl] section (run `pathdep rl SUITE` to fine-tune anyway)"


def _run(ctx: Context, o: RLOptions) -> AnalysisResult:
    return rl_paths(ctx.suite, o.rl_spec(), n_boot=o.n_boot, seed=o.seed, normalize=o.normalize,
                    save=False)


def claims_more(res: AnalysisResult) -> bool:
    """The verdict's claim: RL fine-tuning is more path-dependent (std ratio interval > 1)."""
    r = res.summary["std_ratio_rl_to_pretrain"]
    return r is not None and r.low > 1


SIMULATION = Simulation(
    null=lambda n, seed: rl_shares(n, seed, planted=False),
    planted=lambda n, seed: rl_shares(n, seed, planted=True),
    claims=claims_more,
    effect="final shares of form A spread 3 times as widely across RL seeds (sd 0.12 vs 0.04)",
    options={"n_boot": 200},
    run=lambda x, o: decide(*x, n_boot=o.n_boot, seed=o.seed, figures=False),
    size=lambda res: min(int(res.summary["n_rl_seeds"]), int(res.summary["n_pretrain_runs"])))

ANALYSIS = Analysis(
    NAME,
    "Is RL fine-tuning more path-dependent than pre-training: does the final form of the answer "
    "spread more across RL seeds than across pre-training runs?",
    label="", section="rl", run=_run, options=RLOptions,
    inputs=CheckpointInputs("one base checkpoint fine-tuned per RL seed, and every grid run's "
                            "last checkpoint", _applies),
    simulation=SIMULATION, command="rl")
