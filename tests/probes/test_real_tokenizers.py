"""The English battery under the real GPT-2 and GPT-NeoX-20B tokenizers (skipped without them).

Get them with ``bash scripts/get_tokenizers.sh`` (into tests/.tokenizers, git-ignored)
or point ``PATHDEP_TOKENIZERS`` at a folder holding gpt2/{vocab.json,merges.txt}
and gpt-neox-20b/tokenizer.json.
"""

import logging
import os
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from pathdep.probes import compile_probes, score_probes
from pathdep.probes.english import english_probes

ROOT = Path(os.environ.get("PATHDEP_TOKENIZERS") or Path(__file__).parents[1] / ".tokenizers")
FILES = {"gpt2": ["gpt2/vocab.json", "gpt2/merges.txt"],
         "gpt-neox-20b": ["gpt-neox-20b/tokenizer.json"]}


@pytest.fixture(scope="module", params=sorted(FILES))
def tok(request):
    files = [ROOT / f for f in FILES[request.param]]
    if not all(f.is_file() for f in files):
        pytest.skip(f"the {request.param} tokenizer is not in {ROOT}: run "
                    "`bash scripts/get_tokenizers.sh` (or set PATHDEP_TOKENIZERS to a folder "
                    "holding " + ", ".join(FILES[request.param]) + ")")
    from transformers import GPT2TokenizerFast, PreTrainedTokenizerFast

    if request.param == "gpt2":
        return GPT2TokenizerFast(*map(str, files))
    return PreTrainedTokenizerFast(tokenizer_file=str(files[0]))


def _probe(name):
    return next(p for p in english_probes() if p.name == name)


def _ids(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def test_bracket_items_split_where_the_tokenizer_merges(tok):
    p = _probe("en_brackets")
    c = compile_probes([p], tok, context=64)
    conts = [it.correct + it.incorrect for it in p.items]
    merged = [k for k, it in enumerate(p.items)  # items whose text tokenises across the boundary
              if any(_ids(tok, it.prompt) + _ids(tok, x) != _ids(tok, it.prompt + x) for x in conts[k])]
    assert len(merged) == 3, merged  # the issue's "}, )], ]}
    for r in range(len(c.row_len)):
        k, it = c.row_item[r], p.items[c.row_item[r]]
        text = it.prompt + conts[k][r - np.flatnonzero(c.row_item == k)[0]]
        assert c.tokens[r, :c.row_len[r]].tolist() == _ids(tok, text)  # tokenised as one string
        cont = tok.decode(c.tokens[r, c.row_start[r]:c.row_len[r]])
        moved = cont[:-1]  # the continuation text, led by the prompt's end where merged
        assert text.endswith(cont) and moved == ("" if k not in merged else it.prompt[-1])
    right = [tok.decode(c.tokens[r, c.row_start[r]:c.row_len[r]])
             for r in np.flatnonzero(c.row_correct) if c.row_item[r] in merged]
    assert sorted(right) == sorted(['"}', ")]", "]}"])
    assert (c.row_len - c.row_start)[np.isin(c.row_item, merged)].tolist() == [1] * 9


def test_unequal_token_lengths_are_compared_per_token(tok, caplog):
    probes = list(english_probes())
    with caplog.at_level(logging.WARNING, logger="pathdep.probes.compile"):
        c = compile_probes(probes, tok, context=64)
    assert set(c.probe_scoring) == {"mean"} and "total log-prob" not in caplog.text
    lang = _probe("en_language")
    uneven = sum(len({len(_ids(tok, x)) for x in it.correct + it.incorrect}) > 1 for it in lang.items)
    assert uneven > 0  # GPT-2: 7 of 9, NeoX: 4 of 9 pit words of different token lengths
    with caplog.at_level(logging.WARNING, logger="pathdep.probes.compile"):
        compile_probes([replace(lang, scoring="sum")], tok, context=64)
    assert "total log-prob" in caplog.text
    assert f"en_language ({uneven} of {len(lang.items)} items)" in caplog.text


class Unigram(nn.Module):
    """A planted scorer: the same next-token log-probs ``log_softmax(w)`` at every position."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.config = SimpleNamespace(final_logit_softcapping=None)
        self.head = nn.Linear(1, len(w), bias=False)
        with torch.no_grad():
            self.head.weight.copy_(w[:, None])

    @property
    def base_model(self):
        return lambda x: SimpleNamespace(last_hidden_state=torch.ones(*x.shape, 1))

    def get_output_embeddings(self):
        return self.head


def test_a_planted_scorer_ranks_items_by_the_per_token_rule(tok):
    probes = [_probe(n) for n in ("en_language", "en_facts", "en_acronym")]
    w = torch.randn(len(tok), generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    lp = torch.log_softmax(w, 0).numpy()
    sc = score_probes(Unigram(w.float()), compile_probes(probes, tok, context=64))

    def rule(it, agg):  # the best correct beats the best wrong, by hand from the tokenizer
        best = [max(agg(lp[_ids(tok, x)]) for x in xs) for xs in (it.correct, it.incorrect)]
        return float(best[0] > best[1])

    items = [it for p in probes for it in p.items]
    per_token = [rule(it, np.mean) for it in items]
    assert sc.item_correct.tolist() == per_token
    assert per_token != [rule(it, np.sum) for it in items]  # the rule decides some items
