"""Simulated per-checkpoint numbers for calibrating the verdicts of analyses that load
checkpoints (issue 14): the tables those analyses compute from the models, drawn directly.

    from pathdep.analysis.simulate_checkpoints import markov_kl_table, llc_estimates
    markov_algorithms.from_table(markov_kl_table(8, seed=0, planted=False))

A rep of such an analysis would load and evaluate every checkpoint (SGLD chains
for the LLC, interpolation paths for barriers), so its calibration draws the
numbers its decision reads instead, at the size of the noise measured on the
demo suite and the test suites (docs/calibration.md gives each source), and
passes them through the same decision function the analysis calls
(:class:`~pathdep.analysis.contract.Simulation` ``run``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pathdep.probes.markov import ALGORITHMS

# Markov KL (nats) of a two-layer model to each algorithm at its last checkpoint, from the test
# suites' kl tables (Uni-Inf and Uni-Ret within 0.04-0.07 of each other, Bi-Inf about 0.12,
# Bi-Ret 0.3-0.45); under the null the two nearest are tied.
MARKOV_KL = {"uni_inf": 0.045, "uni_ret": 0.045, "bi_inf": 0.12, "bi_ret": 0.35}
MARKOV_RUN_SD = 0.1  # sd of log KL shared by a run's algorithms (its model's quality)
MARKOV_SD = 0.15  # sd of log KL per run and algorithm (the test suites' differences vary so)
MARKOV_EFFECT = 0.7  # planted: Uni-Inf's KL as a share of the others' on training chains


def markov_kl_table(n_runs: int, seed: int, planted: bool) -> pd.DataFrame:
    """The markov_algorithms kl table at one (last) checkpoint: per run, chain set and
    algorithm, log KL = log(mean) + a run effect + noise. Planted: on training chains Uni-Inf's
    KL is :data:`MARKOV_EFFECT` times its null value."""
    rng = np.random.default_rng([seed, 7])
    rows = []
    for cs in ("train", "fresh"):
        for r in range(n_runs):
            u = rng.normal(0, MARKOV_RUN_SD)
            kl = {a: MARKOV_KL[a] * np.exp(u + rng.normal(0, MARKOV_SD)) for a in ALGORITHMS}
            if planted and cs == "train":
                kl["uni_inf"] *= MARKOV_EFFECT
            near = min(kl, key=kl.get)
            rows += [{"run": f"run{r}", "step": 1000, "chainset": cs, "algorithm": a,
                      "kl": float(kl[a]), "dominant": near} for a in ALGORITHMS]
    return pd.DataFrame(rows)


# The demo suite's llc table (BENCHMARKS.md): 5 log-spaced checkpoints, the LLC rising from
# about -10 at step 0 to about 180 at step 1200, 2 SGLD chains whose s.d. is 0.3-6.6
# (about 1 + 2 % of the LLC).
LLC_STEPS = (0, 4, 25, 174, 1200)
LLC_RUN_SD = 0.03  # relative sd of the LLC between runs at one checkpoint
LLC_PLATEAU = 0.05  # planted: the rise from step 25 to 174 as a share of the curve's range


def llc_curve(planted: bool) -> np.ndarray:
    """The true LLC at :data:`LLC_STEPS`: a steady rise in log step (-10 + 60 log10(1 +
    step)); planted, a plateau from step 25 to 174 rising :data:`LLC_PLATEAU` of the range."""
    y = -10 + 60 * np.log10(1 + np.asarray(LLC_STEPS, float))
    if planted:
        y[3] = y[2] + LLC_PLATEAU * (y[-1] - y[0])
    return y


def llc_estimates(n_runs: int, seed: int, planted: bool, chains: int = 2) -> pd.DataFrame:
    """The llc analysis's table of estimates: per run and checkpoint, the mean and s.d. over
    ``chains`` SGLD chains, each the run's LLC plus chain noise of sd 1 + 0.02 |LLC|."""
    rng = np.random.default_rng([seed, 11])
    true = llc_curve(planted)
    rows = []
    for r in range(n_runs):
        run = true * (1 + rng.normal(0, LLC_RUN_SD, len(true)))
        for step, y in zip(LLC_STEPS, run, strict=True):
            draws = y + rng.normal(0, 1 + 0.02 * abs(y), chains)
            rows.append({"run": f"run{r}", "step": step, "llc_mean": float(draws.mean()),
                         "llc_sd": float(draws.std(ddof=1)), "n_chains": chains,
                         "n_diverged": 0, "init_loss": 2.0, "diverged": ""})
    return pd.DataFrame(rows)


# Loss barriers between runs of one basin on the demo suite (BENCHMARKS.md, basins and
# instability): branches of one parent from step 600 on, and the runs of its one shared basin,
# sit at 0-0.004 nats (mean 0.004 within basins); their endpoint losses at 1.52-1.53 nats, so
# the default threshold (2 % of the mean loss) is about 0.03 nats.
BARRIER_MEAN, BARRIER_SD = 0.002, 0.005  # within a basin: max(0, normal) nats
LOSS, LOSS_SD = 1.53, 0.01
BASIN_GAP = 0.06  # planted: the barrier between the two halves (twice the default threshold)


def barrier_matrix(n_runs: int, seed: int, planted: bool) -> tuple[np.ndarray, np.ndarray]:
    """(barrier matrix, endpoint losses) of ``n_runs`` runs at one step: every barrier
    max(0, N(BARRIER_MEAN, BARRIER_SD)) (one basin), plus :data:`BASIN_GAP` between the first
    and the second half of the runs when ``planted``."""
    rng = np.random.default_rng([seed, 13])
    b = np.maximum(0.0, rng.normal(BARRIER_MEAN, BARRIER_SD, (n_runs, n_runs)))
    if planted:
        half = np.arange(n_runs) < n_runs // 2
        b += BASIN_GAP * (half[:, None] != half[None, :])
    b = np.triu(b, 1)
    return b + b.T, LOSS + rng.normal(0, LOSS_SD, n_runs)


# Barriers between branches of one parent trained on with different data orders (the demo's
# stab-at100 pairs: 0.10-0.13 nats; stab-at600: 0-0.004 nats; BENCHMARKS.md, instability).
# Pairs share branches, so a branch's own offset enters all its pairs.
BRANCH_SD = 0.25  # relative sd of a branch's offset
PAIR_SD = 0.25  # relative sd of a pair's own deviation
UNSTABLE_BARRIER = 0.13  # planted: the mean barrier of branches from step 100


def _branch_step_pairs(n_branches: int, k: int, mean: float, rng) -> list[dict]:
    """The pairs of ``n_branches`` branches from step ``k`` whose barriers average ``mean``."""
    off = rng.normal(0, BRANCH_SD * mean, n_branches)
    rows = []
    for i in range(n_branches):
        for j in range(i + 1, n_branches):
            b = max(0.0, mean + off[i] + off[j] + rng.normal(0, PAIR_SD * mean))
            la, lb = LOSS + rng.normal(0, LOSS_SD, 2)
            rows.append({"parent": "run0", "branch_step": k, "run_a": f"at{k}-data{i}",
                         "run_b": f"at{k}-data{j}", "step": 1200, "loss_a": la, "loss_b": lb,
                         "barrier": b, "barrier_frankle": b, "alpha_max": 0.5})
    return rows


def branch_barriers(n_branches: int, seed: int, planted: bool) -> pd.DataFrame:
    """The instability analysis's pairs table: ``n_branches`` data orders branched at steps 100
    and 600 of one parent. Null: at both steps the mean barrier is the default threshold (2 %
    of the mean endpoint loss, so neither step is in one basin; the least favourable case for
    a "stable" claim). Planted: step 100 at :data:`UNSTABLE_BARRIER`, step 600 in one basin
    (max(0, N(BARRIER_MEAN, BARRIER_SD)) per pair)."""
    rng = np.random.default_rng([seed, 17])
    at_threshold = 0.02 * LOSS
    if not planted:
        return pd.DataFrame(_branch_step_pairs(n_branches, 100, at_threshold, rng)
                            + _branch_step_pairs(n_branches, 600, at_threshold, rng))
    late = _branch_step_pairs(n_branches, 600, BARRIER_MEAN, rng)
    for r in late:
        r["barrier"] = r["barrier_frankle"] = max(0.0, rng.normal(BARRIER_MEAN, BARRIER_SD))
    return pd.DataFrame(_branch_step_pairs(n_branches, 100, UNSTABLE_BARRIER, rng) + late)


# The share of form A on held-out prompts in the demo's rl_paths tables (BENCHMARKS.md): 8
# pre-training runs at 0.47-0.58 (sd 0.038), 6 RL seeds of 80 steps from a base at 0.51 ending
# at 0.44-0.57 (sd 0.048), evaluated every 20 RL steps.
SHARE_MEAN, SHARE_SD = 0.52, 0.04
RL_SPREAD = 3.0  # planted: the RL seeds' sd as a multiple of the pre-training runs'
RL_EVALS = (0, 20, 40, 60, 80)


def rl_shares(n_runs: int, seed: int, planted: bool) -> tuple[pd.DataFrame, pd.DataFrame, str,
                                                                dict]:
    """(RL trajectories, pre-training shares, column, head) for rl_paths' decision: ``n_runs``
    RL seeds and as many pre-training runs (seed and data order only). Each seed's share moves
    linearly from the base's to its final value (noise sd 0.01 at each evaluation); final
    values normal around :data:`SHARE_MEAN` with the pre-training sd, times
    :data:`RL_SPREAD` when planted."""
    rng = np.random.default_rng([seed, 19])
    col, base = "share_heldout", SHARE_MEAN
    pre = pd.DataFrame({"run": [f"run{i}" for i in range(n_runs)], "step": 1200,
                        col: np.clip(rng.normal(SHARE_MEAN, SHARE_SD, n_runs), 0, 1)})
    sd = SHARE_SD * (RL_SPREAD if planted else 1.0)
    final = np.clip(rng.normal(SHARE_MEAN, sd, n_runs), 0, 1)
    rows = []
    for s in range(n_runs):
        for step in RL_EVALS:
            t = step / RL_EVALS[-1]
            share = base if step == 0 else float(np.clip(
                base + t * (final[s] - base) + (rng.normal(0, 0.01) if t < 1 else 0), 0, 1))
            rows.append({"seed": s, "step": step, "reward": 0.1, col: share, "share_train": share,
                         "heldout_reward": 0.05, "correct_share_A": 0.5})
    head = {"task": "world-spelling", "quantity": "share of form A (held-out prompts)",
            "base": "run0", "base_step": 1200, "rl_steps": RL_EVALS[-1], "pretrain_left_out": []}
    return pd.DataFrame(rows), pre, col, head
