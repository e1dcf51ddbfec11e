"""One contract for every registered analysis, store-reading or checkpoint-loading.

The store analyses also run on the synthetic store in test_registry.py; here every
analysis that loads checkpoints runs through ``analyze`` on a tiny suite trained in
the test, so the registry, the runner and each entry's adapter are exercised alike.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import plotly.graph_objects as go
import pytest
from typer.testing import CliRunner

from pathdep.analysis.contract import Analysis, Options
from pathdep.analysis.result import AnalysisResult
from pathdep.analyze import analyze
from pathdep.analyze.registry import ANALYSES, REGISTRY, names_for
from pathdep.cli import app
from pathdep.measure import measure
from pathdep.report.sections import SECTION_KEYS
from pathdep.spec import parse_spec
from pathdep.train import train
from tests.conftest import tiny_spec_dict


@pytest.mark.parametrize("entry", ANALYSES, ids=lambda a: a.name)
def test_every_entry_declares_what_the_contract_asks(entry: Analysis):
    assert isinstance(entry, Analysis) and REGISTRY[entry.name] is entry
    assert entry.question.endswith("?") and len(entry.question) > 20
    assert entry.section in SECTION_KEYS, f"{entry.name}: unknown report section"
    assert issubclass(entry.options, Options)
    for name, field in entry.options.model_fields.items():
        assert field.description, f"{entry.name}.{name} has no description"
    entry.options.build()  # every option has a valid default
    assert entry.inputs.kind in ("store", "checkpoints") and entry.inputs.describe()
    assert entry.module.startswith("pathdep.")


def test_names_are_unique_and_every_command_runs_its_analyses():
    assert len(REGISTRY) == len(ANALYSES)
    commands = {a.command for a in ANALYSES}
    assert commands == {"analyze", "barriers", "rl", "forking", "prompts"}
    assert names_for("barriers") == ["instability", "basins"]
    listing = CliRunner().invoke(app, ["analyze", "--list"])
    assert listing.exit_code == 0
    assert all(a.name in listing.output for a in ANALYSES)
    for command in commands - {"analyze"}:  # their flags are generated from the options
        help_text = CliRunner().invoke(app, [command, "--help"], terminal_width=200).output
        fields = {f for n in names_for(command) for f in REGISTRY[n].options.model_fields}
        assert all("--" + f.replace("_", "-") in help_text for f in fields), command


def test_unknown_options_are_refused_with_the_nearest_name():
    from pathdep.errors import PathdepError

    with pytest.raises(PathdepError, match="did you mean 'max_runs'"):
        REGISTRY["basins"].options.build(max_run=3)
    with pytest.raises(PathdepError, match="did you mean agreement"):
        analyze(None, names=["agrement"])


WORLD = tiny_spec_dict(
    name="contract", data={"generator": "world", "n_docs": 120, "n_eval_docs": 12,
                           "n_entities": 6, "n_words": 30, "spelling_variants": 0.5},
    tokenizer={"vocab_size": 300}, model={"n_layers": 2, "d_model": 16, "n_heads": 2,
                                          "context": 32},
    train={"steps": 12, "batch_size": 4, "checkpoints": "log:3"},
    grid={"seed": [0, 1, 2]},
    branches=[{"name": "stab", "parent": "seed0-data0", "at": [4], "data_seed": [1, 2],
               "checkpoints": "log:2"}],
    measure={"eval_sequences": 4, "dist_positions": 8, "hidden_positions": 4,
             "head_examples": 2, "probes": "none"})
SMALL = {  # each checkpoint analysis at its smallest useful size
    "instability": {"n_sequences": 2, "n_alphas": 3},
    "basins": {"n_sequences": 2, "n_alphas": 3},
    "rl_paths": {"seeds": [0, 1], "steps": 1, "prompts_per_step": 2, "group": 2, "max_new_tokens": 16,
                 "eval_every": 1},
    "forking_tokens": {"prompt": ["The capital of"], "n": 2, "max_new": 3, "threshold": 0.2},
    "prompt_dependence": {"m": 2, "max_new": 2, "temperature": [1.0]},
    "markov_algorithms": {"n_rep": 1, "length": 8},
    "llc": {"max_runs": 3, "max_checkpoints": 3, "draws": 4, "batch_size": 2},
}
CHECKPOINT_ANALYSES = [a.name for a in ANALYSES if a.inputs.kind == "checkpoints"]


@pytest.fixture(scope="module")
def suites(tmp_path_factory):
    """A tiny world suite (branches, spelling variants) and a tiny Markov suite, measured."""
    root = tmp_path_factory.mktemp("contract")
    world = train(parse_spec(WORLD), root / "world")
    measure(world, out=root / "world" / "measurements.zarr")
    markov = train(parse_spec(tiny_spec_dict(train={"checkpoints": [8]})), root / "markov")
    return {"world": world, "markov": markov}


def _check(res: AnalysisResult, name: str) -> None:
    assert isinstance(res, AnalysisResult) and res.name == name
    assert res.verdict.endswith(".") and not re.search(r"\bnan\b", res.verdict.lower())
    json.dumps(res.summary_json())
    assert res.tables and all(isinstance(t, pd.DataFrame) for t in res.tables.values())
    assert all(isinstance(f, go.Figure) for f in res.figures.values())


@pytest.mark.parametrize("name", CHECKPOINT_ANALYSES)
def test_checkpoint_analyses_run_through_the_runner(name, suites, tmp_path):
    if name == "llc":
        pytest.importorskip("devinterp")  # the [llc] extra (in [dev])
    suite = suites["markov" if name == "markov_algorithms" else "world"]
    out = tmp_path / "analysis"
    results = analyze(None, out, names=[name], suite=suite, n_boot=10,
                      options={name: SMALL[name]})
    assert name in results, results.skipped
    _check(results[name], name)
    back = AnalysisResult.load(out / name)
    assert back.verdict == results[name].verdict and back.summary == results[name].summary
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["results"]) == {name}
    assert all(summary["options"][name][k] == v for k, v in SMALL[name].items())
    again = analyze(None, out, names=[name], suite=suite, n_boot=10,
                    options={name: SMALL[name]})
    assert again[name].summary == results[name].summary  # reused, and alike


def test_default_analyses_skip_what_does_not_apply_with_a_reason(suites, tmp_path):
    """By default: forking and prompt dependence are not run; RL needs [rl]; Markov its data."""
    store = suites["world"].root + "/measurements.zarr"
    res = analyze(store, tmp_path / "a", n_boot=5, options={"instability": SMALL["instability"],
                                                            "basins": SMALL["basins"],
                                                            "llc": SMALL["llc"]})
    assert {"instability", "basins", "agreement"} <= set(res)
    assert "[rl]" in res.skipped["rl_paths"] and "markov" in res.skipped["markov_algorithms"]
    assert not {"forking_tokens", "prompt_dependence"} & (set(res) | set(res.skipped))
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["skipped"] == res.skipped


def test_a_store_analysis_needs_a_store_and_says_so():
    from pathdep.analysis.contract import Context

    assert REGISTRY["agreement"].skip_reason(Context()) == "needs a measurement store"
    assert "suite" in REGISTRY["basins"].skip_reason(Context())
