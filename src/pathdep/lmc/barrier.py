"""The loss along the straight line between two checkpoints, and its barrier (methods.md §5).

    from pathdep.lmc import interpolation_losses, loss_barrier
    alphas = alpha_grid()                                  # 11 points in [0, 1]
    losses = interpolation_losses(model_a, model_b, tokens, alphas)
    b = loss_barrier(alphas, losses)                       # b.barrier (Entezari), b.frankle

The model at ``α`` has weights ``θ(α) = (1−α)·θa + α·θb`` (Juneja et al. 2023,
arXiv 2205.12411, interpolate ``θ = (1−w)θ₁ + wθ₂``); its loss ``L(α)`` is the
mean next-token cross-entropy (nats) over every position 1..T−1 of the
evaluation tokens, as the store's ``loss`` is measured.

Two barriers are returned:

- the general loss barrier of Entezari et al. (ICLR 2022, arXiv 2110.06296),
  as used by Juneja et al.: ``max_α [L(α) − ((1−α)L(0) + αL(1))]`` (primary);
- the barrier height of Frankle et al. (ICML 2020, arXiv 1912.05671), applied to
  the loss instead of the error: ``sup_α L(α) − ½(L(0) + L(1))``.

Interpolating a checkpoint with itself gives exactly 0 for both: the weights are
formed as ``θa + α(θb − θa)`` (so equal endpoints give bitwise-equal weights) and
the straight-line reference as ``L(0) + α(L(1) − L(0))``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from pathdep.errors import PathdepError

log = logging.getLogger(__name__)

N_ALPHAS = 11
LOGIT_BUDGET = 1 << 26  # floats of logits per forward pass (256 MB in float32)


def alpha_grid(n: int = N_ALPHAS) -> np.ndarray:
    """``n`` evenly spaced interpolation coefficients in [0, 1], endpoints included.

    The default is 11 points. Frankle et al. (2020) evaluate 30 values of α;
    Juneja et al. (2023) use 20 interior points plus the two endpoints (22).
    """
    if int(n) < 2:
        raise PathdepError(f"the α grid needs at least 2 points (the endpoints), not {n}; "
                           f"use e.g. {N_ALPHAS}")
    return np.linspace(0.0, 1.0, int(n))


def check_alphas(alphas: Sequence[float] | np.ndarray | None) -> np.ndarray:
    """A valid α grid as a sorted float array: in [0, 1], with both endpoints, no repeats."""
    if alphas is None:
        return alpha_grid()
    a = np.asarray(alphas, dtype=np.float64).reshape(-1)
    if a.size < 2 or not np.all(np.isfinite(a)) or a.min() < 0 or a.max() > 1:
        raise PathdepError(f"α grid {a.tolist()} is not valid: give values in [0, 1] including "
                           "0 and 1, e.g. alpha_grid(11)")
    if not (np.any(a == 0.0) and np.any(a == 1.0)):
        raise PathdepError(f"α grid {a.tolist()} lacks an endpoint: the barrier compares the "
                           "path with the losses at α = 0 and α = 1, so include both")
    a = np.unique(a)
    return a


class Barrier(NamedTuple):
    """Barriers of one loss path (nats): ``barrier`` (Entezari, primary) and ``frankle``.

    ``alpha`` is where the Entezari barrier is attained.
    """

    barrier: float
    frankle: float
    alpha: float


def loss_barrier(alphas: Sequence[float] | np.ndarray, losses: Sequence[float] | np.ndarray
                 ) -> Barrier:
    """The loss barrier of a path ``L(α)`` sampled at ``alphas`` (which must include 0 and 1).

    ``barrier`` = max_α [L(α) − ((1−α)L(0) + αL(1))] (Entezari et al. 2022, as in
    Juneja et al. 2023); it is ≥ 0, since the endpoints give 0. ``frankle`` =
    max_α L(α) − ½(L(0) + L(1)) (Frankle et al. 2020, on the loss). Both are 0
    exactly for a constant path.
    """
    a = np.asarray(alphas, dtype=np.float64).reshape(-1)
    L = np.asarray(losses, dtype=np.float64).reshape(-1)
    if a.shape != L.shape:
        raise PathdepError(f"{a.size} α values but {L.size} losses; give one loss per α")
    if not np.all(np.isfinite(L)):
        raise PathdepError(f"the loss path {L.tolist()} has non-finite values; the checkpoints "
                           "or the evaluation tokens are broken (check their losses)")
    i0, i1 = np.flatnonzero(a == 0.0), np.flatnonzero(a == 1.0)
    if not (i0.size and i1.size):
        raise PathdepError(f"α grid {a.tolist()} lacks an endpoint (0 and 1 are both needed)")
    l0, l1 = L[i0[0]], L[i1[0]]
    gap = L - (l0 + a * (l1 - l0))
    k = int(np.argmax(gap))
    return Barrier(float(gap[k]), float(L.max() - (l0 + l1) / 2), float(a[k]))


def _name(model, given: str | None) -> str:
    if given:
        return given
    return str(getattr(model.config, "_name_or_path", "") or type(model).__name__)


def _float_state(model, device) -> dict:
    import torch

    return {k: (v.detach().to(device, torch.float32) if v.is_floating_point()
                else v.detach().to(device)) for k, v in model.state_dict().items()}


def barrier_device(device: str = "cpu", dtype: str = "float32"):
    """(torch.device, torch.dtype) of the options' ``device`` and ``dtype``, checked to exist
    (models/device.py: a missing GPU or an unsupported dtype is a PathdepError with the fix)."""
    from pathdep.models.device import resolve_device, resolve_dtype

    dev = resolve_device(device)
    return dev, resolve_dtype(dtype, dev)


def check_compatible(model_a, model_b, names: tuple[str | None, str | None] = (None, None)
                     ) -> None:
    """Raise PathdepError unless the two models have the same class, parameters and shapes."""
    na, nb = _name(model_a, names[0]), _name(model_b, names[1])
    if type(model_a) is not type(model_b):
        raise PathdepError(
            f"cannot interpolate {na} ({type(model_a).__name__}) and {nb} "
            f"({type(model_b).__name__}): linear mode connectivity needs two checkpoints of the "
            "same architecture; compare runs of one model size")
    sa, sb = model_a.state_dict(), model_b.state_dict()
    if sa.keys() != sb.keys():
        only = sorted(set(sa) ^ set(sb))[:5]
        raise PathdepError(
            f"cannot interpolate {na} and {nb}: their parameters differ (e.g. {only}); "
            "compare checkpoints of the same architecture")
    bad = [(k, tuple(sa[k].shape), tuple(sb[k].shape)) for k in sa if sa[k].shape != sb[k].shape]
    if bad:
        k, s1, s2 = bad[0]
        raise PathdepError(
            f"cannot interpolate {na} and {nb}: parameter {k} has shape {s1} in one and {s2} in "
            f"the other ({len(bad)} parameters differ); compare runs of the same model size")


def check_tokens(tokens, vocab: int | None = None) -> np.ndarray:
    """Evaluation tokens as a (seq, pos) int64 array with pos ≥ 2 (ids below ``vocab``)."""
    t = np.asarray(tokens)
    if t.ndim != 2 or t.shape[0] < 1 or t.shape[1] < 2 or not np.issubdtype(t.dtype, np.integer):
        raise PathdepError(f"evaluation tokens must be an integer (seq, pos) array with at least "
                           f"2 positions, not {t.dtype} of shape {t.shape}")
    if t.min() < 0 or (vocab is not None and t.max() >= vocab):
        raise PathdepError(f"evaluation token ids run from {t.min()} to {t.max()}, outside the "
                           f"models' vocabulary of {vocab}; use the store measured on this suite")
    return t.astype(np.int64)


def mean_loss(model, tokens: np.ndarray, *, batch_size: int = 8, device: str = "cpu") -> float:
    """Mean next-token cross-entropy (nats) of ``model`` over positions 1..T−1 of ``tokens``."""
    import torch
    import torch.nn.functional as F

    n_seq, n_pos = tokens.shape
    vocab = model.get_output_embeddings().weight.shape[0]
    batch = max(1, min(int(batch_size), n_seq, LOGIT_BUDGET // max(n_pos * vocab, 1)))
    total, count = 0.0, 0
    with torch.no_grad():
        for b0 in range(0, n_seq, batch):
            x = torch.as_tensor(tokens[b0:b0 + batch], dtype=torch.long, device=device)
            logits = model(input_ids=x).logits[:, :-1].float()
            target = x[:, 1:]
            ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                 reduction="sum")
            total += float(ce.double().item())
            count += target.numel()
    return total / count


def interpolation_losses(model_a, model_b, tokens, alphas=None, *, batch_size: int = 8,
                         device: str = "cpu", dtype: str = "float32",
                         names: tuple[str | None, str | None] = (None, None)) -> np.ndarray:
    """Mean next-token loss of ``(1−α)θa + αθb`` on ``tokens`` for each α (float64 array).

    ``tokens`` is a (seq, pos) integer array (e.g. the store's ``tokens``);
    ``alphas`` defaults to :func:`alpha_grid` (11 points). One scratch copy of
    ``model_a`` on ``device`` in ``dtype`` (default float32) is reused, loading
    the state dict interpolated in float32 on that device for each α, under
    ``torch.no_grad``. The two models must share architecture and
    parameter shapes, else PathdepError naming both (``names`` overrides the
    names taken from the configs). α = 0 and α = 1 load θa and θb exactly.
    """
    dev, dt = barrier_device(device, dtype)
    alphas = check_alphas(alphas)
    check_compatible(model_a, model_b, names)
    vocab = model_a.get_output_embeddings().weight.shape[0]
    toks = check_tokens(tokens, vocab)
    sa, sb = _float_state(model_a, dev), _float_state(model_b, dev)
    diff = {k: sb[k] - v for k, v in sa.items() if v.is_floating_point()}
    scratch = copy.deepcopy(model_a).to(device=dev, dtype=dt).eval()
    out = np.empty(len(alphas))
    for i, alpha in enumerate(alphas):
        if alpha == 0.0:
            state = sa
        elif alpha == 1.0:
            state = sb
        else:
            state = {k: (v + float(alpha) * diff[k] if k in diff else v) for k, v in sa.items()}
        scratch.load_state_dict(state, strict=True)
        out[i] = mean_loss(scratch, toks, batch_size=batch_size, device=dev)
        log.debug("α = %.3f: loss %.5f", alpha, out[i])
    del scratch
    return out
