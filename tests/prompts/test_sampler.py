from types import SimpleNamespace

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from pathdep.models.sampler import position_probs, sample


class NoCache(torch.nn.Module):
    """The same model, hiding its KV cache: the sampler must recompute the prefix."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, **kw):
        return SimpleNamespace(logits=self.m(input_ids=input_ids).logits)


def test_kv_cache_matches_recompute_and_is_seeded():
    torch.manual_seed(0)
    m = GPT2LMHeadModel(GPT2Config(vocab_size=40, n_embd=16, n_layer=1, n_head=2,
                                   n_positions=64)).eval()
    x = torch.tensor([[1, 2, 3]] * 5)
    a = sample(m, x, 8, temperature=1.0, seed=3)
    assert a.shape == (5, 8)
    assert torch.equal(a, sample(NoCache(m), x, 8, temperature=1.0, seed=3))
    assert torch.equal(a, sample(m, x, 8, temperature=1.0, seed=3))
    g = sample(m, x[:1], 6, temperature=0)
    assert position_probs(m, [1, 2, 3])[-1].argmax() == g[0, 0]


def test_eos_pads_rows():
    torch.manual_seed(0)
    m = GPT2LMHeadModel(GPT2Config(vocab_size=8, n_embd=16, n_layer=1, n_head=2,
                                   n_positions=64)).eval()
    out = sample(m, torch.tensor([[1, 2]] * 20), 12, seed=0, eos_id=0)
    for row in out.tolist():
        if 0 in row:
            assert set(row[row.index(0):]) == {0}
