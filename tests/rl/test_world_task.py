"""The world-spelling task from a world suite, and rl_paths end to end on a tiny suite."""

from __future__ import annotations

import pytest
import torch

from pathdep.analysis.result import AnalysisResult
from pathdep.data.world import WorldConfig, generate
from pathdep.errors import PathdepError
from pathdep.rl.task import spelling_task_from_info, world_spelling_task
from pathdep.spec import RLSpec
from pathdep.suites import Suite


def fake_suite(tmp_path, info: dict, data: dict) -> Suite:
    import json

    (tmp_path / "data").mkdir(parents=True, exist_ok=True)
    (tmp_path / "data" / "info.json").write_text(json.dumps(info))
    return Suite(name="w", runs=[], root=str(tmp_path), meta={"spec": {"data": data}})


def test_world_spelling_task_has_the_right_forms(tmp_path):
    cfg = WorldConfig(n_docs=60, n_eval_docs=10, n_entities=12, spelling_variants=0.5)
    info = generate(cfg, "train").info
    task = world_spelling_task(fake_suite(tmp_path, info, cfg.model_dump(mode="json")))
    assert task.name == "world-spelling"
    items = task.train + task.heldout
    facts = {f["id"]: f for f in info["facts"]}
    word_facts = [f for f in info["facts"] if f["attribute"] != "birth_year"]
    per_attr = {a: len(t) for a, t in info["fact_templates"].items()}
    assert len(items) == sum(per_attr[f["attribute"]] for f in word_facts)
    for it in items:
        f = facts[it.id.split("#")[0]]
        assert f["attribute"] != "birth_year"
        assert it.prompt in [t.format(entity=f["entity"])
                             for t in info["fact_templates"][f["attribute"]]]
        assert it.a == f["value"] and it.b == info["spellings"][f["value"]]
        assert it.b == ("Y" + it.a[0].lower() + it.a[1:] if it.a[0].isupper() else "y" + it.a)
    held = {it.id.split("#")[0] for it in task.heldout}
    assert held and not held & {it.id.split("#")[0] for it in task.train}  # by fact
    assert len(held) == round(0.25 * len(word_facts))
    assert spelling_task_from_info(info).heldout == task.heldout  # deterministic


def test_suites_without_two_spellings_are_refused(tmp_path):
    cfg = WorldConfig(n_docs=30, n_eval_docs=5, n_entities=6)
    info = generate(cfg, "train").info
    with pytest.raises(PathdepError, match="spelling_variants"):
        world_spelling_task(fake_suite(tmp_path / "a", info, cfg.model_dump(mode="json")))
    with pytest.raises(PathdepError, match="not a world suite"):
        world_spelling_task(fake_suite(tmp_path / "b", {}, {"generator": "markov-mixture"}))


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_rl_paths_end_to_end_on_a_tiny_world_suite(tmp_path, tiny_spec, one_thread):
    from pathdep.rl.analysis import rl_paths
    from pathdep.train import train

    spec = tiny_spec(data={"generator": "world", "n_docs": 60, "n_eval_docs": 5,
                           "n_entities": 10, "spelling_variants": 0.5},
                     train={"steps": 6, "checkpoints": [3]},
                     grid={"seed": [0, 1, 2], "variants": [{"name": "lr-hi", "lr": 0.05}]},
                     tokenizer={"vocab_size": 300},
                     rl={"seeds": [0, 1, 2, 3], "steps": 2, "prompts_per_step": 2, "group": 2,
                         "eval_every": 1, "max_new_tokens": 12})
    suite = train(spec, tmp_path / "w")
    res = rl_paths(suite, n_boot=50)
    folder = tmp_path / "w" / "measurements.zarr.analysis" / "rl_paths"
    assert (folder / "summary.json").is_file()
    back = AnalysisResult.load(folder)
    assert back.name == "rl_paths" and back.question == "RL (fine-tuning path dependence)"
    s = res.summary
    assert s["n_rl_seeds"] == 4 and s["n_pretrain_runs"] == 3 and s["base_step"] == 6
    # a learning-rate variant is not another draw of the base's pre-training path
    assert s["pretrain_left_out"] == ["lr-hi"] and "lr-hi" not in set(res.tables["pretraining"]["run"])
    assert len(res.tables["trajectories"]) == 4 * 3  # seeds x (steps 0, 1, 2)
    assert set(res.tables["predictability"]["step"]) == {0, 1, 2}
    assert res.tables["predictability"]["accuracy"].iloc[-1] == 1.0
    assert s["predictable_from_step"] is not None
    assert 0 <= s["share_seeds_form_A"] <= 1 and 0 <= s["dip_p"] <= 1
    assert set(res.figures) == {"share_over_rl_steps", "final_shares"}
    assert "RL seeds" in res.verdict and "pre-training" in res.verdict
    for k in range(4):
        seed_dir = tmp_path / "w" / "rl" / f"{suite.runs[0].id}@6" / f"seed{k}"
        assert (seed_dir / "done.json").is_file()
    again = rl_paths(suite, RLSpec(seeds=[0, 1, 2, 3], steps=2, prompts_per_step=2, group=2,
                                   eval_every=1, max_new_tokens=12), n_boot=50)
    assert again.summary["rl_std"].value == s["rl_std"].value  # finished seeds reused
    # the command line: [rl] from the suite's spec, seeds and steps overridden
    import typer
    from typer.testing import CliRunner

    from pathdep.analyze.cli import rl_cmd

    app = typer.Typer()
    app.command()(rl_cmd)
    r = CliRunner().invoke(app, [str(tmp_path / "w"), "--seeds", "0,1", "--n-boot", "20"])
    assert r.exit_code == 0, r.output
    assert "rl_paths: Across 2 RL seeds of 2 steps" in r.output
    r = CliRunner().invoke(app, [str(tmp_path / "w"), "--seeds", "0"])
    assert isinstance(r.exception, PathdepError) and "at least 2" in str(r.exception)
