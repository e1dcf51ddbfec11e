import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pathdep.errors import PathdepError
from pathdep.prompts import prompt_dependence
from pathdep.prompts.divergence import js
from pathdep.prompts.models import LM
from pathdep.prompts.promptsets import get_prompt_set, read_prompt_set, world_prompt_set
from pathdep.suites import Checkpoint, Run, Suite
from tests.analyze.verdict_numbers import unbacked

WORDS = ["the", "sky", "is", "grass", "dog", "red", "blue", "green", "big"]


class Table(torch.nn.Module):
    """Next-token logits from a per-run random table of the last token only."""

    def __init__(self, seed: int):
        super().__init__()
        self.w = torch.randn(len(WORDS), len(WORDS), generator=torch.Generator().manual_seed(seed))

    def forward(self, input_ids, **kw):
        return SimpleNamespace(logits=3 * self.w[input_ids])


def encode(text: str) -> list[int]:
    """Case, punctuation and white space vanish: every surface variant encodes the same."""
    return [WORDS.index(w) for w in re.findall(r"[a-z]+", text.lower())]


def decode(ids):
    return " ".join(WORDS[i] for i in ids)


PROMPTS = """
name = "toy"
[[prompt]]
id = "sky"
family = "colors"
text = "The sky is"
[[prompt]]
id = "grass"
family = "colors"
text = "The grass is"
spelling = ["The  grass is"]
[[prompt]]
id = "dog"
family = "animals"
text = "The dog is"
"""


def _suite(n=3):
    return Suite(name="toy", runs=[Run(id=f"r{i}", checkpoints=[Checkpoint(step=1, path="/x")])
                                   for i in range(n)])


def test_variants_that_change_nothing_are_not_claimed(tmp_path):
    f = tmp_path / "toy.toml"
    f.write_text(PROMPTS)
    loader = lambda run, ckpt: LM(Table(int(run.id[1:])), encode, decode)  # noqa: E731
    res = prompt_dependence(_suite(), f, loader=loader, m=10, max_new=3, out=tmp_path, n_boot=40)
    sh = res.tables["divergence"]
    var = sh[sh.component == "variant"]
    assert len(var) == 2 * 3 and not var["claimed"].any()
    nt = var[var.measure == "next_token"]
    assert (nt["corrected_bits"] == 0).all() and (nt["high"] == 0).all()
    run = sh[(sh.component == "run") & (sh.family == "all")]
    assert run["claimed"].all()
    assert "run" in res.summary["next_token_claimed"]
    assert (tmp_path / "prompt_dependence" / "summary.json").is_file()
    assert "share" not in res.verdict and "Corrected Jensen" in res.verdict
    assert not unbacked(res.verdict, res.summary, res.tables)


def test_js_bounds():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert js(a, b) == pytest.approx(1.0) and js(a, a) == 0.0


def test_prompt_sets(tmp_path):
    eng = get_prompt_set("english")
    assert len(eng.prompts) >= 6 and "facts" in eng.families
    v = eng.prompts[2].variants()
    assert {"base", "space", "newline", "lower", "spelling0"} <= set(v)
    j = tmp_path / "p.jsonl"
    j.write_text('{"id": "a", "text": "Hello there", "family": "greet"}\n')
    assert read_prompt_set(j).prompts[0].family == "greet"
    with pytest.raises(PathdepError, match="no 'text'"):
        (tmp_path / "bad.jsonl").write_text('{"id": "a"}\n')
        read_prompt_set(tmp_path / "bad.jsonl")
    with pytest.raises(PathdepError, match="not found"):
        get_prompt_set(tmp_path / "missing.toml")
    with pytest.raises(PathdepError, match="world suite"):
        get_prompt_set("world")
    info = {"fact_templates": {"capital": ["The capital of {entity} is"]},
            "entities": [{"name": "Zorvia", "rare": False, "facts": {"capital": "Plim"}}]}
    w = world_prompt_set(info)
    assert w.prompts[0].text == "The capital of Zorvia is" and w.extractor == "world_fact"


def test_a_variant_that_changes_the_tokens_has_a_share(tmp_path):
    f = tmp_path / "toy.toml"
    f.write_text(PROMPTS)

    def enc(text):  # a trailing colon becomes a token of its own
        return encode(text) + ([WORDS.index("big")] if text.endswith(":") else [])

    loader = lambda run, ckpt: LM(Table(int(run.id[1:])), enc, decode)  # noqa: E731
    res = prompt_dependence(_suite(2), f, loader=loader, m=6, max_new=2, temperatures=(1.0,),
                            n_boot=20)
    assert res.summary["next_token_variant_corrected"].low > 0
    assert "variant" in res.summary["next_token_claimed"]
    assert "temperature" not in set(res.tables["divergence"]["component"])
