"""Options of the loss-barrier analyses (``pathdep barriers``): one class each, typed and described.

Light on purpose (pydantic only): the command line builds its flags from these
classes when it starts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from pathdep.analysis.contract import BootOptions, Options
from pathdep.spec.sections import check_device

REL_THRESHOLD = 0.02  # Frankle et al.'s 2% error threshold, adapted to loss (instability.py)
N_SEQUENCES = 16


class BarrierOptions(Options):
    """What every loss-barrier computation needs: which tokens, which α, what counts as a barrier."""

    n_sequences: int | None = Field(N_SEQUENCES, ge=1, description=(
        "Evaluation sequences the losses are computed on (the first N of the store); None: all."))
    n_alphas: int = Field(11, ge=2, description=(
        "Points of the α grid in [0, 1], endpoints included (Frankle et al. used 30, Juneja et "
        "al. 22)."))
    alphas: list[float] | None = Field(None, description=(
        "An explicit α grid (sorted, within [0, 1], endpoints included); overrides n_alphas."))
    threshold: float | None = Field(None, gt=0, description=(
        "Barrier (nats) below which runs count as linearly connected; default rel_threshold "
        "times the mean endpoint loss."))
    rel_threshold: float = Field(REL_THRESHOLD, gt=0, lt=1, description=(
        "Default threshold as a fraction of the mean endpoint loss (Frankle et al.'s 2% rule, "
        "adapted from error to loss)."))
    batch_size: int = Field(8, ge=1, description="Sequences per forward pass.")
    device: str = Field("cpu", description=(
        "Where the interpolated models run: cpu (the default: the same numbers on every "
        "machine), cuda, cuda:N, mps, or auto (a CUDA GPU, else MPS, else the CPU)."))
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = Field("float32", description=(
        "Precision of their forward passes (weights are interpolated in float32, losses summed "
        "in float32): float32, the default, since barriers of a few hundredths of a nat are "
        "near bfloat16's rounding; auto = bfloat16 on a GPU that has it."))

    @field_validator("device")
    @classmethod
    def _device(cls, v):
        return check_device(v)


class InstabilityOptions(BarrierOptions, BootOptions):
    """Options of :func:`pathdep.lmc.instability.instability`."""


class BasinsOptions(BarrierOptions):
    """Options of :func:`pathdep.lmc.basins.basins`."""

    runs: list[str] | None = Field(None, description=(
        "Runs for the basin matrix (ids or glob patterns); default all runs with checkpoints."))
    step: int | None = Field(None, ge=0, description=(
        "Step of the basin matrix; default the last step all chosen runs have."))
    max_runs: int = Field(16, ge=2, description=(
        "At most this many runs in the basin matrix (evenly spread; the cost grows with the "
        "square)."))
    align: Literal["auto", "never", "always"] = Field("auto", description=(
        "Permutation-align runs before interpolating (Ainsworth et al. 2023): auto = pairs of "
        "runs from different init seeds; the barrier before alignment is reported too."))
    align_method: Literal["activations", "weights"] = Field("activations", description=(
        "activation matching (on the evaluation tokens) or weight matching."))
