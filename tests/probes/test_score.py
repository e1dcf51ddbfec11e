"""Scoring: the batched, padded pass equals a plain forward pass; a built model scores 1."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from pathdep.data.markov import tokenizer_for
from pathdep.probes import Item, Probe, compile_probes, score_probes
from pathdep.probes.score import row_logprobs
from tests.measure.suitekit import tiny_config

V = 11  # tokenizer_for(10): s0..s9 and EOS


class Successor(nn.Module):
    """A model built to do one behaviour: after s_i comes s_(i+1) (with high probability)."""

    def __init__(self):
        super().__init__()
        self.config = SimpleNamespace(final_logit_softcapping=None)
        self.emb = nn.Embedding(V, V)
        self.head = nn.Linear(V, V, bias=False)
        with torch.no_grad():
            self.emb.weight.copy_(torch.eye(V))
            self.head.weight.copy_(8 * torch.roll(torch.eye(V), 1, dims=0))

    @property
    def base_model(self):
        return lambda x: SimpleNamespace(last_hidden_state=self.emb(x))

    def get_output_embeddings(self):
        return self.head


def _items(rng, n=40, right=True):
    out = []
    for _ in range(n):
        a = int(rng.integers(0, 8))
        wrong = (a + 5) % 10
        cont, bad = (f" s{a + 1}", f" s{wrong}") if right else (f" s{wrong}", f" s{a + 1}")
        out.append(Item(f"s{(a + 3) % 10} s{a}", cont, bad))
    return out


def test_built_model_scores_high_and_reversed_items_low():
    tok, rng = tokenizer_for(10), np.random.default_rng(0)
    probes = [Probe("succ", _items(rng)), Probe("anti", _items(rng, right=False))]
    sc = score_probes(Successor(), compile_probes(probes, tok, context=16), batch_size=7)
    assert sc.accuracy.tolist() == [1.0, 0.0]
    assert sc.margin[0] > 5 and sc.margin[1] < -5
    assert sc.item_correct.shape == (80,) and sc.item_correct[:40].all()


@pytest.mark.parametrize("arch", ["gpt_neox", "gpt2"])
def test_batched_padded_logprobs_equal_one_row_at_a_time(arch):
    from transformers import GPT2Config, GPT2LMHeadModel, GPTNeoXForCausalLM

    torch.manual_seed(0)
    if arch == "gpt2":  # learned positions: right padding leaves them as they are
        model = GPT2LMHeadModel(GPT2Config(vocab_size=V, n_embd=32, n_layer=2, n_head=4,
                                           n_positions=32, bos_token_id=10, eos_token_id=10))
    else:
        model = GPTNeoXForCausalLM(tiny_config())
    model.eval()
    tok = tokenizer_for(10)
    items = [Item(" ".join(f"s{i % 10}" for i in range(n)), " s1 s2", [" s3", " s4 s5 s6"])
             for n in (1, 4, 9)]
    c = compile_probes([Probe("p", items)], tok, context=32)
    got = row_logprobs(model, c, batch_size=4)
    for r in range(len(got)):
        x = torch.from_numpy(c.tokens[r, : c.row_len[r]]).long()[None]
        with torch.no_grad():
            lp = torch.log_softmax(model(x).logits[0], -1)
        want = sum(lp[t - 1, x[0, t]].item() for t in range(c.row_start[r], c.row_len[r]))
        assert got[r] == pytest.approx(want, abs=1e-4)


def test_random_init_is_near_chance():
    from transformers import GPTNeoXForCausalLM

    torch.manual_seed(1)
    model = GPTNeoXForCausalLM(tiny_config())
    rng = np.random.default_rng(1)
    items = [Item(" ".join(f"s{t}" for t in rng.integers(0, 10, 6)), f" s{a}", f" s{(a + 3) % 10}")
             for a in rng.integers(0, 10, 200)]
    sc = score_probes(model, compile_probes([Probe("coin", items)], tokenizer_for(10), 16))
    assert 0.35 < sc.accuracy[0] < 0.65


def test_mean_probes_compare_per_token_and_sum_probes_in_total():
    """Under Successor, " s3 s9" after "s1 s2" costs one surprise in two tokens, " s8" one in
    one: in total " s8" wins (by the cost of the expected s3), per token " s3 s9" wins."""
    tok = tokenizer_for(10)
    items = [Item("s1 s2", " s3 s9", " s8"), Item("s4 s5", " s6", " s2 s3")]
    probes = [Probe("total", items), Probe("per_token", items, scoring="mean")]
    c = compile_probes(probes, tok, context=16)
    total = row_logprobs(Successor(), c)
    n = c.row_len - c.row_start
    want = {"total": total, "per_token": total / n}  # the rules, applied by hand to each row
    sc = score_probes(Successor(), c)
    for name in c.names:
        rows = np.flatnonzero(c.item_probe[c.row_item] == name)
        ok, bad = want[name][rows[::2]], want[name][rows[1::2]]  # one correct, one wrong each
        assert sc.item_correct[c.item_probe == name].tolist() == (ok > bad).astype(float).tolist()
        assert sc.item_margin[c.item_probe == name] == pytest.approx(ok - bad, abs=1e-5)
    assert sc.accuracy.tolist() == [0.5, 1.0]  # the first item flips with the rule
