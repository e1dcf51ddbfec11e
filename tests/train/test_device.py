"""Training on a device and in bfloat16 autocast (issue 17 item 1); CUDA tests skip without one."""

import numpy as np
import pytest
import torch
from safetensors import safe_open

from pathdep.errors import PathdepError
from pathdep.train import train
from pathdep.train.loop import ckpt_dir
from tests.train.interrupt import train_stopping_after

GPU = torch.cuda.is_available()
RUN = "seed0-data0"


def _weights(folder):
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iterator)


def _one_run(tiny_spec, **train_opts):
    return tiny_spec(grid={"seed": [0], "data_seed": [0]}, train=train_opts)


def test_bfloat16_autocast_trains_float32_checkpoints_and_resumes_exactly(tmp_path, tiny_spec,
                                                                       monkeypatch):
    spec = _one_run(tiny_spec, dtype="bfloat16")
    assert spec.digest() != _one_run(tiny_spec).digest()  # other weights, another suite
    train(spec, tmp_path / "clean")
    train(_one_run(tiny_spec), tmp_path / "f32")
    w = _weights(ckpt_dir(tmp_path / "clean", RUN, 24))
    assert all(t.dtype == torch.float32 for t in w.values())
    f32 = _weights(ckpt_dir(tmp_path / "f32", RUN, 24))
    assert any(not torch.equal(w[k], f32[k]) for k in w)  # autocast did change the arithmetic
    # interrupted after the step-8 checkpoint, then resumed: the same weights as uninterrupted
    train_stopping_after(spec, tmp_path / "resumed", 8, monkeypatch)
    assert not ckpt_dir(tmp_path / "resumed", RUN, 24).exists()
    train(spec, tmp_path / "resumed")
    again = _weights(ckpt_dir(tmp_path / "resumed", RUN, 24))
    assert all(torch.equal(w[k], again[k]) for k in w)


def test_a_missing_device_fails_before_anything_is_written(tmp_path, tiny_spec):
    if GPU:
        pytest.skip("this machine has the GPU the test asks for")
    with pytest.raises(PathdepError, match="no CUDA GPU"):
        train(_one_run(tiny_spec, device="cuda"), tmp_path / "s")
    assert not (tmp_path / "s").exists()
    with pytest.raises(PathdepError, match="not a device"):
        _one_run(tiny_spec, device="tpu")


@pytest.mark.skipif(not GPU, reason="needs a CUDA GPU")
def test_cuda_training_is_repeatable_on_the_same_gpu(tmp_path, tiny_spec):
    spec = _one_run(tiny_spec, device="cuda", dtype="auto")
    train(spec, tmp_path / "a")
    train(spec, tmp_path / "b")
    a, b = (_weights(ckpt_dir(tmp_path / x, RUN, 24)) for x in "ab")
    assert all(np.allclose(a[k].numpy(), b[k].numpy(), atol=1e-6) for k in a)
