"""A store with gaps: the report names every gap and prints no NaN as a finding (issue 15 item 4).

Three runs are trained; one is never measured, and one checkpoint of a measured
run is truncated so that its job fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.conftest import tiny_spec_dict

from pathdep.analyze import analyze
from pathdep.measure import measure
from pathdep.report import report
from pathdep.spec import parse_spec
from pathdep.train import train


@pytest.fixture(scope="module")
def gappy(tmp_path_factory):
    out = tmp_path_factory.mktemp("gappy")
    spec = parse_spec(tiny_spec_dict(name="gappy", grid={"seed": [0, 1, 2]},
                                     measure={"eval_sequences": 4, "dist_positions": 8,
                                              "hidden_positions": 4, "head_examples": 2}))
    suite = train(spec, out / "suite")
    ckpt = [r for r in suite.runs if r.id == "seed1-data0"][0].checkpoints[-1]
    weights = Path(ckpt.path) / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # a truncated checkpoint
    store = out / "suite" / "measurements.zarr"
    res = measure(out / "suite", out=store, runs=["seed0-data0", "seed1-data0"])
    assert list(res.failed) == [("seed1-data0", ckpt.step)]
    results = analyze(store, n_boot=20)
    page = out / "report.html"
    report(store, out=page)
    return {"store": store, "page": page, "results": results, "failed_step": ckpt.step,
            "summary": json.loads((out / "summary.json").read_text())}


def test_the_header_counts_measured_runs_and_names_the_gaps(gappy):
    html = gappy["page"].read_text()
    assert re.search(r"<b>3</b> runs, of which <b>2</b> measured", html)
    assert "seed2-data0" in html and "have no measured checkpoint" in html
    assert f"checkpoint seed1-data0@{gappy['failed_step']} failed to measure" in html
    s = gappy["summary"]
    assert re.match(r"markov-mixture:eval, 4 × 48 tokens from \d+ documents \(the largest gives "
                    r"\d+% of the tokens\)$", s["evaluation_set"]), s["evaluation_set"]
    assert f"Evaluation set: {s['evaluation_set']}" in html
    assert s["measured_runs"] == ["seed0-data0", "seed1-data0"]
    assert list(s["failed_checkpoints"]) == [f"seed1-data0@{gappy['failed_step']}"]


def test_every_skipped_analysis_is_listed_with_its_reason(gappy):
    skipped = gappy["results"].skipped
    assert skipped, "a 2-run store with no interventions skips some analyses"
    listed = {s["name"]: s["reason"] for s in gappy["summary"]["skipped"]}
    for name, why in skipped.items():
        assert listed[name] == why
    assert "did not run on this store" in gappy["page"].read_text()


def test_no_verdict_quotes_nan(gappy):
    for sec in gappy["summary"]["sections"]:
        for a in sec["analyses"]:
            assert not re.search(r"\bnan\b", a["verdict"], re.I), (a["name"], a["verdict"])
    assert not re.search(r"\bnan\b", gappy["page"].read_text().split("<script")[0], re.I)


def test_a_rerun_that_succeeds_clears_the_failure(gappy, tmp_path):
    from pathdep.store import read_failures, record_failures

    store = gappy["store"]
    key = ("seed1-data0", gappy["failed_step"])
    assert f"{key[0]}@{key[1]}" in read_failures(store)
    try:
        record_failures(store, {}, [key])
        assert read_failures(store) == {}
    finally:
        record_failures(store, {key: "restored for the other tests"}, [])


def test_counts_use_measured_runs_only(gappy):
    """seed2 was never measured: no verdict may count it (it said 'in none of the 3 runs')."""
    verdicts = [a["verdict"] for sec in gappy["summary"]["sections"] for a in sec["analyses"]]
    assert verdicts and not any(re.search(r"\b3 runs\b", v) for v in verdicts), verdicts
    phase = gappy["results"]["phase_changes"]
    assert "2 runs" in phase.verdict


def test_a_verdict_that_would_quote_nan_becomes_not_measured():
    from pathdep.analysis.result import AnalysisResult
    from pathdep.analyze.runner import not_measured_if_nan

    r = not_measured_if_nan(AnalysisResult("x", "A", "runs end nan [nan, nan] trajectory lengths"))
    assert r.verdict.startswith("Not measured: ") and "nan" not in r.verdict.lower()
    assert r.summary["unmeasured_verdict"].startswith("runs end nan")
    kept = not_measured_if_nan(AnalysisResult("x", "A", "a finance of 0.3 nats"))  # 'finance'
    assert kept.verdict == "a finance of 0.3 nats"
