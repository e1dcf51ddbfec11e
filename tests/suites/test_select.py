import pytest

from pathdep.errors import PathdepError
from pathdep.suites import Checkpoint, Run, Suite, select


def _suite():
    runs = [Run(id=f"seed{s}-data0", factors={"seed": s},
                checkpoints=[Checkpoint(step=t, path=f"/x/{s}/{t}") for t in (0, 10, 20, 30, 40)])
            for s in range(3)]
    return Suite(name="t", runs=runs)


def test_select_runs_by_glob_and_steps_by_list_range_and_every():
    s = _suite()
    assert select(s, runs=["seed1*"]).run_ids == ["seed1-data0"]
    assert select(s, steps="10,30").runs[0].steps == [10, 30]
    assert select(s, steps="10:30").runs[0].steps == [10, 20, 30]
    assert select(s, every=2).runs[0].steps == [0, 20, 40]
    assert select(s, every=3).runs[0].steps == [0, 30, 40]  # the last is always kept
    assert s.runs[0].steps == [0, 10, 20, 30, 40]  # the original is untouched


def test_select_errors_name_what_exists():
    s = _suite()
    with pytest.raises(PathdepError, match="seed0-data0"):
        select(s, runs=["nope*"])
    with pytest.raises(PathdepError, match="from 0 to 40"):
        select(s, steps="100:200")
    with pytest.raises(PathdepError, match="not understood"):
        select(s, steps="ten")


def test_load_suite_on_a_folder_without_manifest(tmp_path):
    from pathdep.suites import load_suite

    with pytest.raises(PathdepError, match="not a suite folder"):
        load_suite(tmp_path)
