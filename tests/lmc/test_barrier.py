"""Loss barriers with known answers: zero for a checkpoint and itself, positive for a permuted twin.

The helpers here (a briefly trained tiny GPT-NeoX, its permuted twin, evaluation
tokens) are shared with test_analysis.py.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

from pathdep.errors import PathdepError
from pathdep.lmc import alpha_grid, interpolation_losses, loss_barrier
from pathdep.lmc.barrier import mean_loss

V, T = 12, 24  # vocabulary, sequence length


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def chain(n: int, seed: int) -> np.ndarray:
    """Sequences of a Markov chain: the next token is next[prev] with p = 0.9, else uniform."""
    rng = np.random.default_rng(seed)
    nxt = np.random.default_rng(123).permutation(V)
    x = np.empty((n, T), np.int64)
    x[:, 0] = rng.integers(0, V, n)
    for t in range(1, T):
        jump = rng.random(n) < 0.1
        x[:, t] = np.where(jump, rng.integers(0, V, n), nxt[x[:, t - 1]])
    return x


def eval_tokens(n: int = 16) -> np.ndarray:
    return chain(n, seed=7).astype(np.int32)


def config(hidden: int = 32) -> GPTNeoXConfig:
    return GPTNeoXConfig(vocab_size=V, hidden_size=hidden, num_hidden_layers=2,
                         num_attention_heads=4, intermediate_size=2 * hidden,
                         max_position_embeddings=64, bos_token_id=0, eos_token_id=0)


@functools.lru_cache(maxsize=1)
def trained() -> GPTNeoXForCausalLM:
    """A tiny GPT-NeoX trained for 150 Adam steps on the chain (about 1 s; loss ≈ 0.48)."""
    torch.manual_seed(0)
    model = GPTNeoXForCausalLM(config())
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    data = torch.as_tensor(chain(2000, seed=1))
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        b = data[torch.randint(0, len(data), (16,), generator=g)]
        loss = model(input_ids=b, labels=b).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def permuted_twin(model, seed: int = 1) -> GPTNeoXForCausalLM:
    """The same function with permuted hidden units: every layer's MLP units and attention
    heads, and the residual stream's dimensions (embeddings, layer norms, unembedding)."""
    g = torch.Generator().manual_seed(seed)
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = model.config
    heads, dh = cfg.num_attention_heads, cfg.hidden_size // cfg.num_attention_heads
    for layer in range(cfg.num_hidden_layers):
        p = f"gpt_neox.layers.{layer}."
        mlp = torch.randperm(cfg.intermediate_size, generator=g)
        sd[p + "mlp.dense_h_to_4h.weight"] = sd[p + "mlp.dense_h_to_4h.weight"][mlp]
        sd[p + "mlp.dense_h_to_4h.bias"] = sd[p + "mlp.dense_h_to_4h.bias"][mlp]
        sd[p + "mlp.dense_4h_to_h.weight"] = sd[p + "mlp.dense_4h_to_h.weight"][:, mlp]
        order = torch.randperm(heads, generator=g).tolist()  # q, k, v rows are per head
        rows = torch.cat([torch.arange(h * 3 * dh, (h + 1) * 3 * dh) for h in order])
        cols = torch.cat([torch.arange(h * dh, (h + 1) * dh) for h in order])
        for k in ("weight", "bias"):
            sd[p + f"attention.query_key_value.{k}"] = sd[p + f"attention.query_key_value.{k}"][rows]
        sd[p + "attention.dense.weight"] = sd[p + "attention.dense.weight"][:, cols]
    r = torch.randperm(cfg.hidden_size, generator=g)  # the residual stream
    for k, v in sd.items():
        if k.endswith(("embed_in.weight", "lm_head.weight", "query_key_value.weight",
                       "dense_h_to_4h.weight")):
            sd[k] = v[:, r]
        elif "norm" in k or k.endswith(("attention.dense.weight", "attention.dense.bias",
                                        "dense_4h_to_h.weight", "dense_4h_to_h.bias")):
            sd[k] = v[r]
    twin = GPTNeoXForCausalLM(cfg)
    twin.load_state_dict(sd)
    return twin.eval()


def noisy(model, scale: float = 1e-4, seed: int = 0) -> GPTNeoXForCausalLM:
    """``model`` with tiny Gaussian noise on every weight (same basin)."""
    g = torch.Generator().manual_seed(seed)
    twin = GPTNeoXForCausalLM(model.config)
    twin.load_state_dict({k: v + scale * torch.randn(v.shape, generator=g)
                          for k, v in model.state_dict().items()})
    return twin.eval()


def test_loss_barrier_formulas():
    a = [0.0, 0.5, 1.0]
    b = loss_barrier(a, [1.0, 3.0, 2.0])
    assert b.barrier == pytest.approx(1.5) and b.frankle == pytest.approx(1.5) and b.alpha == 0.5
    # below the straight line: Entezari's barrier is 0 (attained at an endpoint); Frankle's
    # sup L − mean of endpoints counts the higher endpoint
    b = loss_barrier(a, [1.0, 1.2, 2.0])
    assert b.barrier == 0.0 and b.frankle == pytest.approx(0.5)
    assert loss_barrier(a, [2.0, 2.0, 2.0]) == (0.0, 0.0, 0.0)


def test_alpha_grid_and_bad_input():
    assert alpha_grid().tolist() == pytest.approx(np.linspace(0, 1, 11).tolist())
    with pytest.raises(PathdepError, match="endpoint"):
        loss_barrier([0.0, 0.5], [1.0, 2.0])
    with pytest.raises(PathdepError, match="one loss per"):
        loss_barrier([0.0, 1.0], [1.0])
    m = trained()
    with pytest.raises(PathdepError, match="endpoint"):
        interpolation_losses(m, m, eval_tokens(2), [0.0, 0.5])
    with pytest.raises(PathdepError, match="vocabulary"):
        interpolation_losses(m, m, eval_tokens(2) + V, [0.0, 1.0])


def test_mean_loss_is_the_models_own_loss():
    m, toks = trained(), eval_tokens(4)
    with torch.no_grad():
        ref = m(input_ids=torch.as_tensor(toks).long(), labels=torch.as_tensor(toks).long()).loss
    assert mean_loss(m, toks, batch_size=3) == pytest.approx(float(ref), abs=1e-6)


def test_checkpoint_against_itself_is_exactly_zero(tmp_path):
    m = trained()
    m.save_pretrained(tmp_path / "ck")
    copy = GPTNeoXForCausalLM.from_pretrained(tmp_path / "ck").eval()  # a reloaded copy
    for other in (m, copy):
        losses = interpolation_losses(m, other, eval_tokens())
        assert len(losses) == 11 and np.all(losses == losses[0])
        b = loss_barrier(alpha_grid(), losses)
        assert b.barrier == 0.0 and b.frankle == 0.0


def test_permuted_twin_computes_the_same_function_but_is_not_connected():
    m = trained()
    twin = permuted_twin(m)
    toks = eval_tokens()
    with torch.no_grad():
        x = torch.as_tensor(toks).long()
        assert torch.allclose(m(input_ids=x).logits, twin(input_ids=x).logits, atol=1e-4)
    losses = interpolation_losses(m, twin, toks)
    assert losses[0] == pytest.approx(losses[-1], abs=1e-5)  # the same loss at both ends
    assert losses[0] < 0.8  # the model learned the chain (chance: log 12 = 2.48)
    b = loss_barrier(alpha_grid(), losses)
    assert b.barrier > 0.1 and b.barrier > 10 * 0.02 * losses[0]  # far above the 2% threshold
    assert b.frankle == pytest.approx(b.barrier, abs=1e-5)  # equal ends: the two agree
    assert 0 < b.alpha < 1


def test_different_architectures_raise_naming_both():
    small, wide = GPTNeoXForCausalLM(config(32)), GPTNeoXForCausalLM(config(48))
    with pytest.raises(PathdepError, match=r"runA@10.*runB@20.*same model size"):
        interpolation_losses(small, wide, eval_tokens(2), names=("runA@10", "runB@20"))
