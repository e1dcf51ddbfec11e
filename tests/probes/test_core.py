"""Probes as data: files, validation, the registry, tokenisation."""

import json

import pytest

from pathdep.data.markov import tokenizer_for
from pathdep.errors import PathdepError
from pathdep.probes import Item, Probe, compile_probes, list_probes, load_probe_file, select_probes


def test_toml_and_jsonl_files_load(tmp_path):
    t = tmp_path / "pairs.toml"
    t.write_text('name = "pairs"\ndescription = "d"\n[[items]]\nprompt = "s1 s2"\n'
                 'correct = " s3"\nincorrect = [" s4", " s5"]\n')
    p = load_probe_file(t)
    assert p.name == "pairs" and p.items[0].correct == (" s3",)
    assert p.items[0].incorrect == (" s4", " s5") and p.scoring == "sum"  # the default
    t.write_text('name = "pairs"\nscoring = "mean"\n' + t.read_text().split("\n", 1)[1])
    assert load_probe_file(t).scoring == "mean"
    j = tmp_path / "set.jsonl"
    j.write_text(json.dumps({"name": "set", "scoring": "mean"}) + "\n"
                 + json.dumps({"prompt": "s1", "correct": [" s2", " s3"], "incorrect": " s4"}) + "\n")
    q = load_probe_file(j)
    assert q.name == "set" and q.items[0].correct == (" s2", " s3") and q.scoring == "mean"


@pytest.mark.parametrize("text, match", [
    ('name = "e"\n', "no items"),
    ('[[items]]\nprompt = "a"\ncorrect = "b"\n', "missing"),
    ('[[items]]\nprompt = "a"\ncorrect = "b"\nincorrect = "b"\n', "both correct and incorrect"),
    ('[[items]]\nprompt = "a"\ncorrect = ""\nincorrect = "c"\n', "empty"),
    ('scoring = "max"\n[[items]]\nprompt = "a"\ncorrect = "b"\nincorrect = "c"\n', "scoring"),
])
def test_bad_probe_files_are_rejected(tmp_path, text, match):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(PathdepError, match=match):
        load_probe_file(f)


def test_untokenisable_target_is_rejected():
    tok = tokenizer_for(10)
    ok = Probe("ok", [Item("s1 s2", " s3", " s4")])
    c = compile_probes([ok], tok, context=16)
    assert c.tokens.shape == (2, 3) and c.row_start.tolist() == [2, 2]
    assert c.row_correct.tolist() == [True, False]
    bad = Probe("bad", [Item("s1 s2", " zebra", " s4")])
    with pytest.raises(PathdepError, match="cannot be tokenised"):
        compile_probes([bad], tok, context=16)


def test_long_prompts_are_cut_from_the_left():
    tok = tokenizer_for(10)
    p = Probe("long", [Item(" ".join(["s1"] * 30) + " s2", " s3 s4", " s5")])
    c = compile_probes([p], tok, context=8)
    assert c.row_len.max() <= 8 and c.tokens[0, 5] == 2  # the prompt's last token is kept


def test_registry_lists_the_world_battery_and_suggests_names():
    names = {e.name for e in list_probes()}
    assert {"end_punct", "brackets", "capital", "email", "language", "acronym", "induction",
            "fact_frequent", "fact_rare", "canary_early", "canary_late"} <= names
    with pytest.raises(PathdepError, match="did you mean brackets"):
        select_probes(["brakets"], None)
    assert select_probes("auto", {"data": {"generator": "markov-mixture"}}) == []
    with pytest.raises(PathdepError, match="not the world generator"):
        select_probes(["brackets"], None)


def test_ls_probes_command():
    from typer.testing import CliRunner

    from pathdep.cli import app

    res = CliRunner().invoke(app, ["ls", "probes"])
    assert res.exit_code == 0 and "brackets" in res.output
    assert CliRunner().invoke(app, ["ls", "nothing"]).exit_code == 2


def test_single_keyword_lists_mean_the_keyword():
    assert select_probes(["none"], {"data": {"generator": "world"}}) == []
    assert select_probes(["auto"], {"data": {"generator": "markov-mixture"}}) == []
