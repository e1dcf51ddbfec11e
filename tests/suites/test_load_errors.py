"""A checkpoint that cannot load says why: corrupt or incomplete, or a version the installed
transformers cannot read (issue 12: every failure used to be called "corrupt")."""

from __future__ import annotations

import json

import pytest
import transformers

from pathdep.errors import PathdepError
from pathdep.models import load_model
from pathdep.suites import load_suite
from pathdep.suites.model import Checkpoint, Run
from tests.suites.test_hub import neox


@pytest.fixture
def saved(tmp_path):
    neox().save_pretrained(tmp_path / "ck")
    folder = tmp_path / "ck"
    return folder, Run(id="r", checkpoints=[Checkpoint(step=0, path=str(folder))])


def test_a_config_from_a_newer_transformers_is_a_version_error(saved):
    folder, run = saved
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(model_type="pathdep-model-of-the-future", transformers_version="99.0.0")
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(PathdepError) as e:
        load_model(run, run.checkpoints[0])
    msg = str(e.value)
    assert "transformers 99.0.0" in msg and f"installed transformers {transformers.__version__}" in msg
    assert "upgrade transformers" in msg and "corrupt" not in msg


def test_truncated_weights_are_corrupt_or_incomplete(saved):
    folder, run = saved
    w = folder / "model.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    with pytest.raises(PathdepError, match="corrupt or incomplete") as e:
        load_model(run, run.checkpoints[0])
    assert "installed transformers" not in str(e.value)


def test_a_config_that_is_not_json_is_corrupt_or_incomplete(saved):
    folder, run = saved
    (folder / "config.json").write_text('{"model_type": "gpt_neox", ')
    with pytest.raises(PathdepError, match="corrupt or incomplete"):
        load_model(run, run.checkpoints[0])


def test_measure_refuses_a_masked_lm_suite_before_any_job(tmp_path):
    from pathdep.measure import measure

    with pytest.raises(PathdepError, match="masked-lm"):
        measure(load_suite("multiberts"), out=tmp_path / "m.zarr")
    assert not (tmp_path / "m.zarr").exists()
