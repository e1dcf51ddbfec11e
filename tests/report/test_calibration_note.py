"""The report shows each calibrated verdict's false-positive rate and power at the suite's size."""

import json

import pytest

from pathdep.analysis import power
from pathdep.analysis.power import Calibration


@pytest.fixture
def fake_table(monkeypatch):
    rows = (Calibration("clusters", 2, 0.03, 0.05, 100, "two equal clusters 4 sd apart"),)
    monkeypatch.setattr(power, "table", lambda: rows)
    return rows


def test_the_report_shows_each_calibrated_verdicts_rates(fake_table, store):
    from pathdep.report import report, summary_path

    page = report(store)
    html = page.read_text()
    assert "Calibration at 2 runs" in html and "claims an effect in 3% of suites" in html
    summary = json.loads(summary_path(page).read_text())
    by = {a["name"]: a for s in summary["sections"] for a in s["analyses"]}
    assert by["clusters"]["calibration"]["power"] == 0.05
    assert by["agreement"]["calibration"] is None


def test_a_checkpoint_verdict_is_calibrated_at_its_own_count_not_the_stores(monkeypatch):
    # instability's calibration counts data orders per branch step, not the suite's runs
    import pandas as pd

    from pathdep.analysis.result import AnalysisResult
    from pathdep.report.build import calibration_note

    rows = (Calibration("instability", 4, 0.08, 1.0, 100, "a stable late step"),
            Calibration("instability", 16, 0.08, 1.0, 100, "a stable late step"))
    monkeypatch.setattr(power, "table", lambda: rows)
    res = AnalysisResult("instability", "F", "v", {}, {"by_step": pd.DataFrame(
        {"branch_step": [100, 600], "n_branches": [5, 4]})})
    assert calibration_note("instability", 20, res)["n_runs"] == 4
    assert calibration_note("instability", 20)["n_runs"] == 16  # the store's count alone
