"""The local learning coefficient (LLC) of one model, estimated with devinterp's SGLD sampler.

    from pathdep.analysis.sgld_llc import SGLDSettings, estimate
    est = estimate(model, tokens, SGLDSettings(lr=3e-4, nbeta=300, localization=1000))
    est.llc_mean, est.llc_sd, est.traces      # traces: (chain, draw) mean loss per SGLD step

The LLC λ̂(w*) of Lau, Furman, Wang, Murfet and Wei ("Quantifying degeneracy in
singular models via the learning coefficient", arXiv 2308.12108) is
nβ · (E_w[L_n(w)] − L_n(w*)), the expectation over a tempered posterior
localised at the checkpoint's weights w* by a Gaussian of strength γ, sampled by
stochastic-gradient Langevin dynamics. pathdep does not implement SGLD: the
chains, the loss traces and the estimate are those of devinterp 2.0
(``devinterp.slt.llc.llc``, Timaeus), run on batches of the store's evaluation
tokens with the model's own next-token cross-entropy.

A chain *diverges* when its loss trace holds a non-finite value (devinterp stops
such a chain and leaves the rest of its trace NaN) or is still rising over its
second half by more than ``RISE_SHARE`` of its mean excess over the initial
loss and by more than ``NOISE_SE`` standard errors (a least-squares line over
the second half of the draws): a chain that has not reached the plateau of a
local posterior. Its LLC is left out of the mean and the sd.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np

log = logging.getLogger(__name__)
RISE_SHARE = 0.25  # second-half rise, as a share of the mean excess loss, that counts as rising
NOISE_SE = 3.0  # ... and as standard errors of the fitted rise (a noisy flat trace is not rising)
MISSING = "devinterp is not installed (pip install 'pathdep[llc]')"


def available() -> str | None:
    """None when devinterp can be imported, else the reason it cannot."""
    try:
        import devinterp.slt.llc  # noqa: F401
    except ImportError:
        return MISSING
    return None


@dataclass(frozen=True)
class SGLDSettings:
    """The sampler's hyperparameters (devinterp's names in brackets)."""

    lr: float = 3e-4  # SGLD step size ε (lr)
    nbeta: float = 300.0  # inverse temperature nβ (n_beta)
    localization: float = 1000.0  # pull γ towards the checkpoint's weights (localization)
    chains: int = 2  # independent chains (num_chains)
    draws: int = 30  # SGLD steps per chain, each a draw (num_draws)
    batch_size: int = 4  # sequences per SGLD step (batch_size)
    init_batches: int = 4  # batches that measure L_n(w*) (num_init_loss_batches)
    seed: int = 0  # seed of chain c is seed + c (init_seed)


@dataclass
class Estimate:
    """One checkpoint's LLC: per chain, their mean and s.d., the traces and which diverged."""

    llc_per_chain: np.ndarray  # (chain,)
    traces: np.ndarray  # (chain, draw): mean loss of the SGLD batch at each step
    init_loss: float
    diverged: np.ndarray  # (chain,) bool
    why: list[str]  # per chain: "" or why it diverged

    @property
    def llc_mean(self) -> float:
        ok = self.llc_per_chain[~self.diverged]
        return float(ok.mean()) if ok.size else float("nan")

    @property
    def llc_sd(self) -> float:
        ok = self.llc_per_chain[~self.diverged]
        return float(ok.std(ddof=1)) if ok.size > 1 else float("nan")


def divergence(trace: np.ndarray, init_loss: float) -> str:
    """Why one chain's trace diverged ("" when it did not); see the module docstring."""
    if not np.isfinite(trace).all():
        return "loss not finite"
    half = trace[len(trace) // 2:]
    if half.size < 3:
        return ""
    x = np.arange(half.size)
    slope, icpt = np.polyfit(x, half, 1)
    res = half - (slope * x + icpt)
    se = float(np.sqrt(res.var(ddof=2) / ((x - x.mean()) ** 2).sum()))  # OLS s.e. of the slope
    rise, noise = slope * (half.size - 1), NOISE_SE * se * (half.size - 1)
    excess = float(trace.mean() - init_loss)
    if rise > max(RISE_SHARE * max(excess, 0.0), noise):
        return f"loss still rising ({rise:.3g} nats over the second half of the draws)"
    return ""


@contextlib.contextmanager
def threads(n: int):
    """Torch's intra-op threads set to ``n`` inside the block, restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _dataset(tokens: np.ndarray):
    from datasets import Dataset

    ids = np.asarray(tokens, dtype=np.int64)
    return Dataset.from_dict({"input_ids": ids.tolist()}).with_format("torch")


def estimate(model, tokens: np.ndarray, settings: SGLDSettings, device: str = "cpu") -> Estimate:
    """The LLC of ``model`` at its current weights on ``tokens`` (seq, pos), by devinterp.

    ``batch_size`` is capped at the number of sequences. The model is not changed
    (devinterp samples on a copy). devinterp's per-chain progress bars are turned
    off (pathdep's own bar counts the checkpoints).
    """
    from devinterp.slt import sampler
    from devinterp.slt.llc import llc

    s = settings
    batch = max(1, min(s.batch_size, len(tokens)))
    quiet = mock.patch.object(sampler, "trange", functools.partial(sampler.trange, disable=True))
    with (tempfile.TemporaryDirectory(prefix="pathdep-llc-") as tmp, warnings.catch_warnings(),
          quiet):
        warnings.simplefilter("ignore")  # devinterp warns per failed chain; we record why
        out = llc(model, _dataset(tokens), {}, lr=s.lr, n_beta=s.nbeta,
                  localization=s.localization, num_chains=s.chains, num_draws=s.draws,
                  batch_size=batch, num_init_loss_batches=s.init_batches, init_seed=s.seed,
                  device=device, output_path=Path(tmp) / "samples.zarr")
        per_chain = np.asarray(out["llc_per_chain"].values, dtype=float)
        traces = np.asarray(out["loss_trace"].transpose("chain", "step").values, dtype=float)
        init = float(out["init_loss"].values)
    why = [divergence(t, init) for t in traces]
    diverged = np.array([bool(w) for w in why]) | ~np.isfinite(per_chain)
    return Estimate(per_chain, traces, init, diverged, why)
