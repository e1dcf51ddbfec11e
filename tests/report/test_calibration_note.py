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
