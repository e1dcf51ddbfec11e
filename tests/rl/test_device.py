"""RL fine-tuning runs on the device and in the dtype ``[rl]`` names (issue 17 item 1).

The default (cpu, float32) leaves a seed's key and numbers as they were; bfloat16
autocast is honoured on the CPU too; a device that is not there is refused before
any seed runs, with exit status 2 and the fix; on a GPU a seed trains there
(skipped without one).
"""

from __future__ import annotations

import copy

import pytest
import torch

from pathdep.errors import PathdepError
from pathdep.rl.grpo import config_key, rl_device, train_seed
from pathdep.spec import RLSpec
from tests.rl.planted import planted_docs, planted_task, pretrain

GPU = torch.cuda.is_available()
MISSING = "cuda:99" if GPU else "cuda"
CFG = RLSpec(steps=2, prompts_per_step=2, group=2, lr=3e-3, max_new_tokens=6, eval_every=1)


@pytest.fixture(scope="module")
def planted():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield pretrain(planted_docs(n=200), steps=60)
    torch.set_num_threads(n)


def test_the_default_keeps_old_keys_and_bad_devices_are_refused():
    task = planted_task()
    assert "device" not in config_key(CFG, task, "b")["rl"]  # finished seeds are reused
    assert config_key(CFG.model_copy(update={"device": "auto"}), task, "b")["rl"]["device"] == "auto"
    dev, amp = rl_device(CFG)
    assert dev == torch.device("cpu") and not isinstance(amp(), torch.autocast)
    with pytest.raises(ValueError, match="not a device"):
        RLSpec(device="gpu")
    with pytest.raises(PathdepError, match=MISSING):
        rl_device(CFG.model_copy(update={"device": MISSING}))


def test_bfloat16_autocast_is_honoured_on_the_cpu(planted):
    model, tok = planted
    task = planted_task()
    f32 = train_seed(copy.deepcopy(model), tok, task, CFG, 0)
    m = copy.deepcopy(model)
    bf16 = train_seed(m, tok, task, CFG.model_copy(update={"dtype": "bfloat16"}), 0)
    assert next(m.parameters()).dtype == torch.float32  # float32 weights and Adam
    a, b = f32["evals"][0]["share_train"], bf16["evals"][0]["share_train"]
    assert a != b and abs(a - b) < 0.05  # the forward passes ran in bfloat16


def test_a_missing_device_exits_2_before_any_seed(tmp_path):
    from typer.testing import CliRunner

    from pathdep.cli import app
    from tests.measure.suitekit import build_suite

    build_suite(tmp_path / "suite", runs=("a",), steps=(0,))
    r = CliRunner().invoke(app, ["rl", str(tmp_path / "suite"), "--device", MISSING])
    assert r.exit_code == 2, r.output
    assert MISSING in r.output
    assert not (tmp_path / "suite" / "rl").exists()


@pytest.mark.skipif(not GPU, reason="needs a CUDA GPU")
def test_a_seed_trains_on_the_gpu(planted):
    model, tok = planted
    m = copy.deepcopy(model)
    cfg = CFG.model_copy(update={"device": "cuda"})
    traj = train_seed(m, tok, planted_task(), cfg, 0)
    assert next(m.parameters()).device.type == "cuda"
    cpu = train_seed(copy.deepcopy(model), tok, planted_task(), CFG, 0)
    assert abs(traj["evals"][0]["share_train"] - cpu["evals"][0]["share_train"]) < 1e-4
