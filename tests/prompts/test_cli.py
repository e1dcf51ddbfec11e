"""The commands on a real (tiny, trained) world suite: loading, tokenizers, the world set."""

import json

from typer.testing import CliRunner

from pathdep.cli import app
from tests.conftest import tiny_spec_dict


def test_forking_and_prompts_commands_on_a_world_suite(tmp_path):
    from pathdep.spec import parse_spec
    from pathdep.train import train

    d = tiny_spec_dict(data={"generator": "world", "n_docs": 60, "n_eval_docs": 5,
                             "n_entities": 4, "n_words": 20},
                       train={"steps": 4, "checkpoints": "log:2"})
    train(parse_spec(d), tmp_path / "suite")
    out = tmp_path / "analysis"
    r = CliRunner().invoke(app, ["forking", str(tmp_path / "suite"), "--prompt", "The capital of",
                                 "--n", "2", "--max-new", "3", "--threshold", "0.2",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "forking_tokens" / "summary.json").read_text())["summary"]["n_runs"] == 2
    r = CliRunner().invoke(app, ["prompts", str(tmp_path / "suite"), "--m", "2",
                                 "--temperature", "1.0", "--out", str(out)])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "prompt_dependence" / "summary.json").read_text())["summary"]
    assert s["prompt_set"] == "world" and s["n_prompts"] > 0
