"""What a verdict can bear: the calibration table is looked up at the suite's size, a verdict
without an effect says when the suite is too small, and the report shows both rates."""


import pytest

from pathdep.analysis import power
from pathdep.analysis.power import Calibration

EFFECT = "two equal clusters 4 sd apart"


@pytest.fixture
def fake_table(monkeypatch):
    rows = tuple(Calibration("clusters", n, fp, pw, 100, EFFECT)
                 for n, fp, pw in [(2, 0.03, 0.05), (8, 0.04, 0.30), (16, 0.05, 0.85)])
    monkeypatch.setattr(power, "table", lambda: rows)
    return rows


def test_the_row_at_the_largest_calibrated_size_not_above_the_suite(fake_table):
    assert power.at("clusters", 12).n_runs == 8 and power.at("clusters", 40).n_runs == 16
    assert power.at("clusters", 1) is None and power.at("agreement", 12) is None
    assert power.runs_needed("clusters") == 16


def test_a_small_suite_is_told_it_cannot_tell(fake_table):
    text = power.cannot_tell("clusters", 9)
    assert "cannot tell" in text and "30%" in text and "8 runs" in text and "about 16 runs" in text
    assert power.cannot_tell("clusters", 16) is None  # power 0.85: absence reads as absence


def test_the_shipped_table_is_well_formed():
    rows = power.table()
    assert rows, "src/pathdep/analysis/calibration.json is shipped"
    assert {r.analysis for r in rows} >= {"clusters", "phase_changes"}
    for r in rows:
        # 20 suites at least (training_maps refits its HMM per suite: 20 there, 100 elsewhere)
        assert 0 <= r.false_positive <= 1 and 0 <= r.power <= 1 and r.reps >= 20 and r.effect
        assert r.reps >= 100 or r.analysis == "training_maps"

