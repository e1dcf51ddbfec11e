"""pathdep.checkpoint_path: a run x step to the folder (or hub repo@revision) from_pretrained takes."""

import pytest

import pathdep
from pathdep.errors import PathdepError
from pathdep.suites import Checkpoint, Run, Suite


def _suite(tmp_path) -> Suite:
    ck = tmp_path / "runs" / "a" / "checkpoints" / "step-0000010"
    return Suite(name="s", runs=[
        Run(id="a", checkpoints=[Checkpoint(step=0, path=str(tmp_path / "s0")),
                                 Checkpoint(step=10, path=str(ck))]),
        Run(id="hub", checkpoints=[Checkpoint(step=5, repo="org/model", revision="step5"),
                                   Checkpoint(step=9, repo="org/model")])])


def test_local_and_hub_checkpoints(tmp_path):
    s = _suite(tmp_path)
    assert pathdep.checkpoint_path(s, "a", 10) == tmp_path / "runs/a/checkpoints/step-0000010"
    assert pathdep.checkpoint_path(s, "hub", 5) == "org/model@step5"
    assert pathdep.checkpoint_path(s, "hub", 9) == "org/model@main"


def test_unknown_run_or_step_names_what_exists(tmp_path):
    s = _suite(tmp_path)
    with pytest.raises(PathdepError, match="did you mean 'hub'"):
        pathdep.checkpoint_path(s, "hubb", 5)
    with pytest.raises(PathdepError, match="no checkpoint at step 7; its steps are 0, 10"):
        pathdep.checkpoint_path(s, "a", 7)


def test_a_store_without_its_suite_beside_it_is_refused(tmp_path):
    (tmp_path / "x.zarr").mkdir()
    with pytest.raises(PathdepError, match="no suite beside it"):
        pathdep.checkpoint_path(tmp_path / "x.zarr", "a", 0)
