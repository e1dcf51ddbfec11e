"""measure and the audit: copies across runs are refused unless allowed, and recorded.

    pytest tests/suites/test_audit_measure.py
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pathdep.cli import app
from pathdep.errors import PathdepError
from pathdep.measure import measure
from pathdep.store import open_store

from ..measure.suitekit import build_suite, save_checkpoint, tokenizer_for
from .test_audit import planted  # noqa: F401 (a fixture)


def test_copies_across_runs_are_refused_then_measured_once_allowed(tmp_path):
    root = tmp_path / "s"
    suite = build_suite(root, runs=("a", "b"), steps=(0, 10, 100),
                        measure={"check_duplicates": True})
    # b's step 10 holds a's step-10 weights (build_suite seeds run i, step s with 1000 i + s)
    save_checkpoint(root / "runs/b/checkpoints/step-0000010", 10, tokenizer_for(10), step=10)
    out = tmp_path / "m.zarr"
    with pytest.raises(PathdepError, match=r"a@10, b@10.*--allow-duplicates"):
        measure(suite, out=out)
    assert not out.exists()  # refused before anything is written
    res = CliRunner().invoke(app, ["measure", str(root), "--out", str(out)])
    assert res.exit_code == 2 and "--allow-duplicates" in res.output and not out.exists()
    assert measure(suite, out=out, runs=["a"]).ok  # one copy alone is no duplicate
    with pytest.raises(PathdepError, match=r"a@10, b@10"):  # ... the other one later is
        measure(suite, out=out, runs=["b"])
    assert json.loads(open_store(out).attrs["audit"])["allow_duplicates"] is False
    assert measure(suite, out=out, allow_duplicates=True).ok
    attrs = open_store(out).attrs
    record = json.loads(attrs["audit"])
    [copy] = [f for f in record["findings"] if f["kind"] == "cross-run-duplicate"]
    assert sorted(map(tuple, [[copy["run"], s] for s in copy["steps"]]
                      + [[o["run"], s] for o in copy["others"] for s in o["steps"]])) == [
        ("a", 10), ("b", 10)]
    assert record["allow_duplicates"] is True and json.loads(attrs["duplicates"]) == []


def test_measure_refuses_a_hub_revision_that_does_not_exist(hub, planted, tmp_path):  # noqa: F811
    out = tmp_path / "m.zarr"
    res = CliRunner().invoke(app, ["measure", str(planted), "--out", str(out), "--runs", "c"])
    assert res.exit_code == 2, res.output
    assert "org/run-c has no revision 'step4000'" in res.output and not out.exists()
    with pytest.raises(PathdepError, match=r"a@2000, b@2000"):
        measure(planted, out=out, steps="0:3000")
    assert not out.exists() and hub.downloads() == []
