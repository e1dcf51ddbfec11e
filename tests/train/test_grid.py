import pytest

from pathdep.errors import PathdepError
from pathdep.train.grid import expand_grid
from pathdep.train.schedule import checkpoint_steps


def test_grid_crosses_seeds_and_hyperparameters_with_readable_ids(tiny_spec):
    spec = tiny_spec(grid={"seed": [0, 1], "data_seed": [0, 2], "lr": [1e-3, 3e-3],
                           "variants": [{"batch_size": 8}]})
    plans = expand_grid(spec)
    ids = [p.id for p in plans]
    assert len(plans) == 2 * 2 * 2 + 1
    assert "seed1-data2-lr0.003" in ids
    assert ids[-1] == "seed0-data0-lr0.001-batch_size8"
    v = plans[-1]
    assert v.train.batch_size == 8 and v.train.lr == 1e-3
    # every run carries every factor that varies anywhere in the suite
    assert all(set(p.factors) == {"seed", "data_seed", "lr", "batch_size"} for p in plans)
    assert plans[0].factors["batch_size"] == 4


def test_interventions_crossed_as_a_factor(tiny_spec):
    spec = tiny_spec(
        interventions=[{"name": "early", "docs": ["s1 s2 s3"], "start": 1, "end": 3}],
        grid={"intervention": ["none", "early"]},
    )
    plans = expand_grid(spec)
    by_id = {p.id: p for p in plans}
    assert set(by_id) == {"seed0-data0-none", "seed0-data0-early", "seed1-data0-none", "seed1-data0-early"}
    assert [i.name for i in by_id["seed0-data0-early"].interventions] == ["early"]
    assert by_id["seed0-data0-none"].interventions == []


def test_checkpoint_schedules():
    assert checkpoint_steps("log:5", 1000) == [0, 1, 6, 32, 178, 1000]  # log-spaced, step 0 added
    assert checkpoint_steps("every:250", 1000) == [0, 250, 500, 750, 1000]
    assert checkpoint_steps([10, 20], 30) == [0, 10, 20, 30]


def test_checkpoint_windows_and_unions():
    # dense checkpoints where heads form, on top of a log-spaced schedule (issue 13)
    assert checkpoint_steps("every:100:200-500", 1000) == [0, 200, 300, 400, 500, 1000]
    assert checkpoint_steps("log:5+every:250:250-500", 1000) == [0, 1, 6, 32, 178, 250, 500, 1000]
    assert checkpoint_steps("every:50:900-1200", 1000) == [0, 900, 950, 1000]  # clipped at the end
    with pytest.raises(PathdepError, match="runs backwards"):
        checkpoint_steps("every:10:500-200", 1000)


@pytest.mark.parametrize("bad", ["log:5+", "every:10:200", "every:10:a-b", "log5", "log:5 + every:3"])
def test_a_malformed_schedule_is_refused_naming_the_forms(bad):
    from pydantic import ValidationError

    from pathdep.spec.sections import TrainSpec

    with pytest.raises(ValidationError, match="every:K:A-B"):
        TrainSpec(checkpoints=bad)
