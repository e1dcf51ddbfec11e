"""One contract for every registered analysis, and ``analyze`` end to end through a Zarr store."""

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from pathdep.analyze import REGISTRY, AnalysisResult, analyze, registry
from pathdep.errors import PathdepError

STORE_ANALYSES = [n for n, a in REGISTRY.items() if a.inputs.kind == "store"]


@pytest.mark.parametrize("name", STORE_ANALYSES)
def test_contract(name, store, tmp_path):
    entry = REGISTRY[name]
    assert entry.skip_reason(store) is None and entry.question.endswith("?")
    res = analyze(store, names=[name], n_boot=20)[name]
    assert isinstance(res, AnalysisResult) and res.name == name
    assert res.summary == res.normalized().summary  # already as it reads back from disk
    assert isinstance(res.verdict, str) and res.verdict.endswith(".") and "nan" not in res.verdict
    json.dumps(res.summary_json())
    assert res.tables and all(isinstance(t, pd.DataFrame) and len(t) for t in res.tables.values())
    assert all(isinstance(f, go.Figure) for f in res.figures.values())
    res.save(tmp_path / name)
    back = AnalysisResult.load(tmp_path / name)
    assert back.verdict == res.verdict and set(back.tables) == set(res.tables)
    assert set(back.figures) == set(res.figures)


def test_missing_inputs_are_skipped_with_a_reason(store, tmp_path, caplog):
    bare = store.drop_vars(["hidden", "behavior", "head_score", "icl_score"])
    with caplog.at_level("INFO"):
        out = analyze(bare, out=tmp_path / "a", names=["cka", "circuit_survival", "agreement"],
                      n_boot=10)
    assert list(out) == ["agreement"]
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["skipped"]["cka"] == "the store has no hidden"
    assert "head_score" in summary["skipped"]["circuit_survival"]
    assert "skipping cka: the store has no hidden" in caplog.text


def test_unknown_name_suggests_the_nearest():
    with pytest.raises(PathdepError, match="did you mean agreement"):
        registry.get("agrement")


@pytest.mark.filterwarnings("ignore")
def test_end_to_end_through_zarr_matches_memory(store, zarr_path):
    names = ["agreement", "phase_changes", "cka", "clusters"]
    disk = analyze(zarr_path, names=names, n_boot=20)
    mem = analyze(store, names=names, n_boot=20)
    for n in names:
        assert disk[n].verdict == mem[n].verdict
    out = zarr_path.with_name("store.zarr.analysis")
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["results"]) == set(names) and summary["skipped"] == {}
    assert (out / "agreement" / "outliers.csv").exists()
    per_run = pd.read_csv(out / "phase_changes" / "per_run.csv")
    assert np.isfinite(per_run.induction_step).all()


def test_unmeasured_variables_are_skipped_not_errors(store):
    """The store creates every variable up front; all-NaN ones count as absent."""
    blank = store.copy(deep=True)
    for v in ("hidden", "behavior", "head_score", "icl_score", "loss"):
        blank[v] = blank[v] * np.nan
    out = analyze(blank, names=STORE_ANALYSES, n_boot=10)
    assert "cka" not in out and "circuit_survival" not in out and "phase_changes" not in out
    assert {"agreement", "loss_pca", "learning_curves", "run_variance", "predictiveness",
            "factor_variance"} <= set(out)
    assert list(out["run_variance"].tables["properties"].property) == ["tokens:logprob"]


def test_a_result_with_an_empty_table_round_trips(tmp_path):
    import pandas as pd

    from pathdep.analysis.result import AnalysisResult

    r = AnalysisResult("x", "G", "nothing to show", tables={"empty": pd.DataFrame(), "t": pd.DataFrame({"a": [1]})})
    r.save(tmp_path / "x")
    back = AnalysisResult.load(tmp_path / "x")
    assert back.tables["empty"].empty and back.tables["t"]["a"].tolist() == [1]
