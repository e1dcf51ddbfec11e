"""Barriers run on the device and in the dtype their options name (issue 17 item 1).

CPU float32 stays the default (the numbers every machine agrees on); a device that
is not there is refused before any work with exit status 2 and the fix; on a
GPU, float32 barriers agree with the CPU's (skipped without one).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pathdep.errors import PathdepError
from pathdep.lmc import alpha_grid, interpolation_losses
from pathdep.lmc.barrier import barrier_device
from pathdep.lmc.options import BasinsOptions
from tests.lmc.test_barrier import eval_tokens, noisy, one_thread, trained

__all__ = ["one_thread"]  # the module-scoped fixture that keeps torch on one thread
GPU = torch.cuda.is_available()
MISSING = "cuda:99" if GPU else "cuda"


def test_defaults_are_cpu_float32_and_bad_names_are_refused():
    o = BasinsOptions()
    assert (o.device, o.dtype) == ("cpu", "float32")
    assert barrier_device() == (torch.device("cpu"), torch.float32)
    with pytest.raises(ValueError, match="not a device"):
        BasinsOptions(device="gpu")
    with pytest.raises(PathdepError, match="--device cpu|cuda:0 to"):
        barrier_device(MISSING)


def test_the_dtype_is_honoured_on_the_cpu():
    """bfloat16 forward passes give nearly, not exactly, the float32 path; float32 is the
    default and unchanged by naming the CPU explicitly."""
    a, b, toks = trained(), noisy(trained(), 1e-2), eval_tokens()
    grid = alpha_grid(3)
    f32 = interpolation_losses(a, b, toks, grid)
    assert np.array_equal(f32, interpolation_losses(a, b, toks, grid, device="cpu",
                                                    dtype="float32"))
    bf16 = interpolation_losses(a, b, toks, grid, dtype="bfloat16")
    assert 0 < np.abs(bf16 - f32).max() < 0.05


def test_a_missing_device_exits_2_before_any_work(tmp_path):
    from typer.testing import CliRunner

    from pathdep.cli import app
    from tests.measure.suitekit import build_suite

    build_suite(tmp_path / "suite", runs=("a", "b", "c"), steps=(0,))
    r = CliRunner().invoke(app, ["barriers", str(tmp_path / "suite"), "--device", MISSING,
                                 "--out", str(tmp_path / "out")])
    assert r.exit_code == 2, r.output
    assert MISSING in r.output and ("--device cpu" in r.output or "pick one" in r.output)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.json"))


@pytest.mark.skipif(not GPU, reason="needs a CUDA GPU")
def test_cuda_float32_barriers_agree_with_the_cpu():
    a, b, toks = trained(), noisy(trained(), 1e-2), eval_tokens()
    grid = alpha_grid(5)
    cpu = interpolation_losses(a, b, toks, grid)
    gpu = interpolation_losses(a, b, toks, grid, device="cuda")
    np.testing.assert_allclose(gpu, cpu, atol=1e-4, rtol=0)
    assert next(a.parameters()).device.type == "cpu"  # the callers' models stay where they are
