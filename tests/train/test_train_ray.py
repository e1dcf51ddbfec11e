import numpy as np
import pytest
from safetensors.numpy import load_file

from pathdep.train import train
from pathdep.train.loop import ckpt_dir

pytestmark = pytest.mark.ray


def test_ray_executor_trains_the_grid_to_the_same_weights(tmp_path, tiny_spec):
    pytest.importorskip("ray")
    spec = tiny_spec(train={"steps": 8, "checkpoints": [4]},
                     branches=[{"name": "b", "parent": "seed1-data0", "at": [3],
                                "data_seed": [1], "checkpoints": [5]}])
    suite = train(spec, tmp_path / "ray", executor="ray")  # parents first, then branches
    train(spec, tmp_path / "local")
    assert [r.steps for r in suite.runs] == [[0, 4, 8], [0, 4, 8], [3, 8]]
    for run in suite.run_ids:
        a = load_file(str(ckpt_dir(tmp_path / "ray", run, 8) / "model.safetensors"))
        b = load_file(str(ckpt_dir(tmp_path / "local", run, 8) / "model.safetensors"))
        assert all(np.array_equal(a[k], b[k]) for k in a)
