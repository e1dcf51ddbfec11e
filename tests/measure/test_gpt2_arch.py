"""GPT-2 through the model layer: building, reloading, taps, copying scores, positions, barriers.

The copying score is recomputed by brute force from the modules' own forward
passes (``ln_1``, ``c_attn``, ``c_proj`` with the other heads' values zeroed,
``lm_head``), not from the reshaped Conv1D weights that arch.py reads.
"""

import numpy as np
import pytest
import torch
from transformers import GPT2LMHeadModel

from pathdep.errors import PathdepError
from pathdep.lmc.barrier import interpolation_losses, mean_loss
from pathdep.measure.heads import copying_scores, head_scores
from pathdep.models import arch
from pathdep.models.build import build_model, load_saved
from pathdep.models.sampler import sample, sample_padded
from pathdep.spec import ModelSpec
from pathdep.store.schema import KINDS

from .handmade import repeated_random


class _Tok:
    bos_token_id, eos_token_id, pad_token_id = 1, 2, 0

    def __len__(self):
        return 48


def gpt2(seed: int = 0, **over) -> GPT2LMHeadModel:
    spec = ModelSpec(arch="gpt2", n_layers=2, d_model=32, n_heads=4, context=40, **over)
    torch.manual_seed(seed)
    model = build_model(spec, _Tok()).eval()
    with torch.no_grad():  # larger weights than the init, so heads raise tokens unevenly
        for p in model.parameters():
            if p.ndim == 2:
                p.normal_(0, 0.3)
    return model


def test_build_gives_the_spec_gpt2():
    spec = ModelSpec(arch="gpt2", n_layers=3, d_model=48, n_heads=6, d_mlp=80, context=24,
                     dropout=0.1, tie_embeddings=True)
    m = build_model(spec, _Tok())
    assert isinstance(m, GPT2LMHeadModel) and m.config.model_type == "gpt2"
    c = m.config
    assert (c.n_layer, c.n_embd, c.n_head, c.n_inner, c.n_positions) == (3, 48, 6, 80, 24)
    assert (c.attn_pdrop, c.resid_pdrop, c.embd_pdrop) == (0.1, 0.1, 0.1)
    assert (c.bos_token_id, c.eos_token_id, c.pad_token_id, c.vocab_size) == (1, 2, 0, 48)
    assert m.lm_head.weight.data_ptr() == m.transformer.wte.weight.data_ptr()  # tied
    assert m.transformer.wpe.weight.shape == (24, 48)  # learned positions, one row each
    assert build_model(ModelSpec(arch="gpt2", context=24), _Tok()).config.n_inner == 4 * 64


def test_a_saved_gpt2_loads_back_as_gpt2(tmp_path):
    m = gpt2()
    m.save_pretrained(tmp_path)
    again = load_saved(tmp_path).eval()
    assert type(again) is GPT2LMHeadModel
    ids = torch.arange(40)[None] % 48
    with torch.no_grad():
        assert torch.allclose(m(ids).logits, again(ids).logits, atol=1e-6)


def test_residual_taps_are_the_block_inputs():
    m = gpt2()
    ids = torch.randint(3, 48, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), arch.residual_taps(m, [0, 1, 2], lambda x: x.clone()) as taps:
        hs = m(ids, output_hidden_states=True).hidden_states
    assert len(arch.blocks(m)) == 2
    for layer in (0, 1):  # hidden_states[l] is the input of block l (the last is after ln_f)
        assert torch.allclose(taps[layer], hs[layer], atol=1e-6)
    assert torch.allclose(m.transformer.ln_f(taps[2]), hs[2], atol=1e-5)


def brute_copying(model, tokens: torch.Tensor) -> np.ndarray:
    """The copying score (heads.py docstring) from the modules' forward, one head at a time."""
    L, H, d = model.config.n_layer, model.config.n_head, model.config.n_embd
    dh = d // H
    hs = model(tokens, output_hidden_states=True).hidden_states
    W_U = model.lm_head.weight
    out = np.empty((L, H))
    for layer in range(L):
        blk = model.transformer.h[layer]
        v = blk.attn.c_attn(blk.ln_1(hs[layer]))[..., 2 * d:]  # (B, n, d): every head's values
        for h in range(H):
            keep = torch.zeros(d)
            keep[h * dh:(h + 1) * dh] = 1
            o = blk.attn.c_proj(v * keep) - blk.attn.c_proj.bias  # this head's output, no bias
            o = (o - o.mean(-1, keepdim=True)) * model.transformer.ln_f.weight
            logits = o @ W_U.T
            qs = []
            for b in range(tokens.shape[0]):
                sample = sorted(set(tokens[b].tolist()))
                for j in range(tokens.shape[1]):
                    raised = torch.relu(logits[b, j] - logits[b, j].mean())
                    total = raised[sample].sum()
                    qs.append(float(raised[tokens[b, j]] / total) if total > 0 else 0.0)
            out[layer, h] = 2 * np.mean(qs) - 1
    return out


def test_copying_scores_on_gpt2_equal_a_brute_force_recomputation():
    m = gpt2(seed=3)
    tokens = repeated_random(3, 9)[:, 1:10]  # 9 random tokens without BOS, as heads.py passes
    with torch.no_grad():
        got = copying_scores(m, tokens).numpy()
        want = brute_copying(m, tokens)
    assert np.isfinite(got).all() and got.std() > 0.01  # heads differ: not a constant
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_head_scores_on_gpt2_are_finite_and_eager_is_restored():
    m = gpt2()
    text = torch.randint(3, 48, (2, 30), generator=torch.Generator().manual_seed(1)).numpy()
    prefix = repeated_random(2, 9).numpy()  # BOS + 4 x 9 = 37 < 40 positions
    before = m.config._attn_implementation
    s = head_scores(m, text, prefix)
    assert s.shape == (2, 4, len(KINDS)) and np.isfinite(s).all()
    assert m.config._attn_implementation == before


def test_position_limit():
    assert arch.position_limit(gpt2()) == 40
    neox = build_model(ModelSpec(n_layers=1, d_model=32, n_heads=2, context=40), _Tok())
    assert arch.position_limit(neox) is None  # rotary: no table to run past


def test_sampling_past_gpt2_positions_is_refused():
    m = gpt2()
    x = torch.full((2, 30), 5)
    assert sample(m, x, 11, seed=0).shape == (2, 11)  # feeds 30 + 10 = 40 positions: the limit
    with pytest.raises(PathdepError, match="at most 40 positions and this needs 41; .*at most 11"):
        sample(m, x, 12, seed=0)
    with pytest.raises(PathdepError, match="learned absolute positions"):
        sample_padded(m, [[5] * 35, [5] * 3], pad_id=0, eos_id=2, max_new_tokens=7,
                      temperature=1.0, generator=torch.Generator().manual_seed(0))
    ids, mask, g = sample_padded(m, [[5] * 35, [5] * 3], pad_id=0, eos_id=2, max_new_tokens=6,
                                 temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert g.shape[0] == 2


def test_interpolating_two_gpt2s():
    """Conv1D weights interpolate like any other: the midpoint is the averaged model."""
    a, b = gpt2(seed=0), gpt2(seed=1)
    tokens = torch.randint(3, 48, (4, 40), generator=torch.Generator().manual_seed(2)).numpy()
    losses = interpolation_losses(a, b, tokens, [0.0, 0.5, 1.0])
    assert losses[0] == pytest.approx(mean_loss(a, tokens.astype(np.int64)), abs=1e-9)
    assert losses[2] == pytest.approx(mean_loss(b, tokens.astype(np.int64)), abs=1e-9)
    mid = gpt2(seed=0)
    with torch.no_grad():
        for (name, p), q in zip(mid.named_parameters(), b.parameters(), strict=True):
            p.copy_((dict(a.named_parameters())[name] + q) / 2)
    assert losses[1] == pytest.approx(mean_loss(mid, tokens.astype(np.int64)), rel=1e-6)


def test_fused_gelu_is_gpt2s_gelu_to_float32_rounding():
    from transformers.activations import NewGELUActivation

    x = torch.randn(4096, generator=torch.Generator().manual_seed(0)) * 3
    ref = NewGELUActivation()(x.double())  # the composed formula in float64
    fused, composed = arch.TanhGELU()(x).double(), NewGELUActivation()(x).double()
    assert (fused - ref).abs().max() <= 1e-6 and (composed - ref).abs().max() <= 1e-6
    assert (fused - composed).abs().max() <= 1e-6
    # not the exact erf GELU, which differs by up to ~1e-3: the swap keeps GPT-2's formula
    assert (torch.nn.functional.gelu(x).double() - ref).abs().max() > 1e-4


def test_fused_activations_swaps_every_mlp_and_keeps_the_outputs():
    model = gpt2()
    x = repeated_random(4, 6, seed=2)
    with torch.no_grad():
        before = model(x).logits
    assert arch.fused_activations(model) == 2  # one per block
    assert all(isinstance(b.mlp.act, arch.TanhGELU) for b in model.transformer.h)
    with torch.no_grad():
        after = model(x).logits
    assert torch.allclose(after, before, rtol=0, atol=1e-5)
    assert arch.fused_activations(model) == 0  # nothing left to swap


def test_a_neox_model_keeps_its_activation():
    spec = ModelSpec(n_layers=1, d_model=32, n_heads=4, context=16)
    model = build_model(spec, _Tok())
    acts = [type(m) for m in model.modules()]
    assert arch.fused_activations(model) == 0
    assert [type(m) for m in model.modules()] == acts
