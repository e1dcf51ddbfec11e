"""Contract of the probe registry: every registered probe is selected, compiles and scores.

One tiny world suite spec (with canaries injected early, late and never, so
every canary group and ``interventions`` have items), a BPE tokenizer trained on its data and a randomly initialised
2-layer GPT-NeoX: each entry gives probes with items, which compile into
rows that fit the context and score to accuracies in [0, 1].
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import GPTNeoXForCausalLM

from pathdep.data import generate
from pathdep.data.tokenizer import train_bpe
from pathdep.probes import compile_probes, list_probes, score_probes, select_probes
from pathdep.spec import parse_spec
from tests.measure.suitekit import tiny_config

SPEC = {
    "name": "reg",
    "data": {"generator": "world", "n_docs": 60, "n_eval_docs": 40, "n_entities": 10,
             "n_words": 40, "n_canaries": 3},
    "tokenizer": {"vocab_size": 256},
    "model": {"n_layers": 2, "d_model": 32, "n_heads": 2, "context": 64},
    "train": {"steps": 10, "batch_size": 4, "checkpoints": [0, 10]},
    "interventions": [  # canary 0 injected early, canary 1 late, canary 2 never
        {"name": "c0", "source": "canaries", "select": [0], "start": 1, "end": 4, "every": 1},
        {"name": "c1", "source": "canaries", "select": [1], "start": 6, "end": 9, "every": 1}],
    "grid": {"intervention": ["c0", "c1"]},
}
CONTEXT = 64
SYMBOL_SPEC = {  # the symbols battery is built from repeat-copy data
    "name": "sym", "data": {"generator": "repeat-copy", "n_symbols": 16, "length": 63,
                            "layout": "cycle", "period": [4, 8], "n_docs": 20, "n_eval_docs": 20},
    "model": {"n_layers": 2, "d_model": 32, "n_heads": 2, "context": 64},
    "train": {"steps": 10, "batch_size": 4, "checkpoints": [0, 10]},
}


@pytest.fixture(scope="module")
def lm():
    docs = generate(parse_spec(SPEC).data, "train").docs
    tok = train_bpe(docs, 256)
    torch.manual_seed(0)
    model = GPTNeoXForCausalLM(tiny_config(vocab=len(tok), bos_token_id=tok.eos_token_id,
                                           eos_token_id=tok.eos_token_id)).eval()
    return tok, model


@pytest.fixture(scope="module")
def symbol_lm():
    tok = generate(parse_spec(SYMBOL_SPEC).data, "eval").tokenizer
    torch.manual_seed(0)
    model = GPTNeoXForCausalLM(tiny_config(vocab=len(tok), bos_token_id=tok.eos_token_id,
                                           eos_token_id=tok.eos_token_id)).eval()
    return tok, model


@pytest.mark.parametrize("entry", list_probes(), ids=lambda e: e.name)
def test_probe_contract(entry, lm, symbol_lm):
    spec = SYMBOL_SPEC if entry.battery == "symbols" else SPEC
    tok, model = symbol_lm if entry.battery == "symbols" else lm
    probes = select_probes([entry.name], spec)
    assert probes and all(p.items for p in probes), f"{entry.name} gave no items"
    c = compile_probes(probes, tok, CONTEXT, skip_bad=True)
    assert c.n_items > 0 and c.tokens.shape[1] <= CONTEXT
    sc = score_probes(model, c, batch_size=8)
    assert sc.accuracy.shape == (len(c.names),)
    assert np.all((sc.accuracy >= 0) & (sc.accuracy <= 1))
    assert np.isfinite(sc.margin).all()
