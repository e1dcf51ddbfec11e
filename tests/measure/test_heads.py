"""Head scores on a model whose heads are set by hand (handmade.py), and the ICL sign."""

import numpy as np
import pytest
import torch

from pathdep.measure.forward import Samples, main_pass
from pathdep.measure.heads import _mul, detection_masks, head_scores
from pathdep.measure.job import icl_score
from pathdep.measure.plan import icl_positions
from pathdep.store.schema import KINDS

from .handmade import handmade_model, repeated_random


@pytest.fixture(scope="module")
def scores():
    model = handmade_model()
    text = torch.randint(1, 16, (4, 32), generator=torch.Generator().manual_seed(1)).numpy()
    prefix = repeated_random(4, 15).numpy()  # BOS + 15 tokens x 4 = 61
    return {k: head_scores(model, text, prefix)[..., i] for i, k in enumerate(KINDS)}


def _others(a: np.ndarray, layer: int, head: int) -> np.ndarray:
    mask = np.ones_like(a, dtype=bool)
    mask[layer, head] = False
    return a[mask]


def test_previous_token_head(scores):
    s = scores["previous_token"]
    assert s[0, 0] > 0.95
    assert _others(s, 0, 0).max() < 0.5


def test_induction_head(scores):
    s = scores["induction"]
    assert s[1, 0] > 0.99  # perfect: only tokens with an earlier copy are queries
    assert _others(s, 1, 0).max() < 0.15


def test_duplicate_token_head(scores):
    s = scores["duplicate_token"]
    assert s[1, 1] > 0.4  # shares its attention with the current position
    assert _others(s, 1, 1).max() < 0.15


def test_copying_score(scores):
    s = scores["copying"]
    assert s[1, 0] > 0.9  # the induction head's OV raises the attended token
    assert _others(s, 1, 0).max() < 0  # no output, or output the unembedding cannot read


def test_prefix_scores_count_only_queries_with_an_earlier_copy():
    """A head attending exactly to the token after the earlier copy (or to the earlier
    copy) scores 1, not 3/4 as when BOS and the first repeat count as queries."""
    n, T = 3, 13  # BOS + 4 repeats of 3 tokens
    a = torch.zeros(1, 2, T, T)
    for i in range(T):
        prev = i - n if i > n else None  # position of the previous copy of tokens[i]
        a[0, 0, i, prev + 1 if prev is not None else i] = 1.0  # induction
        a[0, 1, i, prev if prev is not None else i] = 1.0  # duplicate token
    x = torch.tensor([[0, *[1, 2, 3] * 4]])
    dup, ind, dup_rows, ind_rows = _mul(a, x)
    assert torch.allclose(ind / ind_rows, torch.tensor([1.0, 0.0]))
    assert torch.allclose(dup / dup_rows, torch.tensor([0.0, 1.0]))
    assert ind_rows.tolist() == [3 * n, 3 * n]  # 3 repeats have an earlier copy; BOS, 1st do not


def test_detection_masks_follow_transformerlens():
    dup, ind = detection_masks(torch.tensor([[5, 7, 5, 7]]))
    assert dup[0].tolist() == [[0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]]
    assert ind[0].tolist() == [[0, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]


def _icl(model) -> float:
    tokens = repeated_random(8, 15, seed=3).numpy()  # 61 tokens: early=6 (1st copy), late=60
    early, late = icl_positions(tokens.shape[1])
    s = Samples(np.zeros(0, int), np.zeros(0, int), np.zeros(0, int), np.zeros(0, int), [], None)
    return icl_score(main_pass(model, tokens, s, batch_size=8).logprob, early, late)


def test_icl_score_sign_on_constructed_models():
    with_induction = _icl(handmade_model(induction=True))
    without = _icl(handmade_model(induction=False))
    assert with_induction < -1.0  # repeats are predicted: late loss far below early loss
    assert abs(without) < 0.3  # nothing to learn in context without the induction head's output


def test_copying_from_the_sample_columns_equals_the_full_vocabulary_formula():
    """heads.copying_scores reads only the sample's logit columns and the mean logit; this is
    the definition over all V logits, written out."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from pathdep.measure.heads import copying_scores
    from pathdep.models import arch

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=500, n_embd=32, n_layer=2, n_head=4,
                                       n_positions=64, bos_token_id=0, eos_token_id=0)).eval()
    tokens = torch.randint(0, 500, (6, 12))
    with torch.no_grad():
        got = copying_scores(model, tokens)
        with arch.residual_taps(model, [0, 1], lambda x: x) as resid:
            model.base_model(tokens)
        ln_f, W_U = arch.unembed(model)
        in_sample = torch.zeros(6, 500, dtype=torch.bool).scatter_(1, tokens, True)
        for layer in range(2):
            ov = arch.ov_circuit(model, layer)
            x = ov.ln(resid[layer])
            for h in range(4):
                o = (x @ ov.W_V[h] + ov.b_V[h]) @ ov.W_O[h]
                o = (o - o.mean(-1, keepdim=True)) * ln_f.weight
                logits = o @ W_U.T  # (B, n, V): every logit
                raised = torch.relu(logits - logits.mean(-1, keepdim=True))
                own = raised.gather(-1, tokens[..., None])[..., 0]
                total = (raised * in_sample[:, None]).sum(-1)
                q = torch.where(total > 0, own / total, torch.zeros_like(own))
                assert abs(float(2 * q.mean() - 1) - float(got[layer, h])) < 1e-5


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("arch", ["handmade", "gpt2"])
def test_previous_token_patterns_from_the_main_pass_equal_their_own_pass(arch, attn, monkeypatch):
    """A job takes the previous-token patterns during the main pass (PrevToken) instead of
    running the text again; the scores are the separate pass's. Under sdpa they come from
    the tapped queries and keys and the log-probs are the plain pass's, bit for bit; with
    eager attention from its patterns, and the log-probs of those batches stay those of the
    fast attention to float32 rounding (a few 1e-6 here, as batch sizes do: 1e-5,
    test_device.py). Too large a batch for eager patterns, or attention that returns no
    pattern, falls back to the separate pass."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from pathdep.measure import heads
    from pathdep.models import arch as arch_mod

    torch.manual_seed(0)
    model = handmade_model() if arch == "handmade" else GPT2LMHeadModel(GPT2Config(
        vocab_size=40, n_embd=32, n_layer=2, n_head=4, n_positions=300)).eval()
    T = 32 if arch == "handmade" else 300  # 300: longer than PREV_CONTEXT, cut to it
    gen = torch.Generator().manual_seed(2)
    text = torch.randint(1, 16, (5, T), generator=gen).numpy()
    prefix = repeated_random(3, 15).numpy()
    s = Samples(np.array([0, 4]), np.array([3, 7]), np.array([1]), np.array([2]), [0, 1], None)
    plain = main_pass(model, text, s, batch_size=2)  # the model's own attention (sdpa)
    own = head_scores(model, text[:3], prefix)
    model.set_attn_implementation(attn)
    assert arch_mod.taps_queries(model) == (attn == "sdpa")
    prev = heads.PrevToken.for_pass(model, 3, T, 2)  # batches of 2: sequences 0-1, 2-3, 4
    with_prev = main_pass(model, text, s, batch_size=2, prev=prev)
    assert prev.ok
    np.testing.assert_allclose(head_scores(model, text[:3], prefix, prev.scores()), own,
                               atol=1e-6, rtol=0)
    tol = 0 if attn == "sdpa" else 1e-5
    np.testing.assert_allclose(with_prev.logprob, plain.logprob, atol=tol, rtol=0)
    np.testing.assert_allclose(with_prev.entropy, plain.entropy, atol=tol, rtol=0)
    monkeypatch.setattr(heads, "ATTN_BUDGET", 2 * model.config.num_attention_heads * T * T - 1)
    assert (heads.PrevToken.for_pass(model, 3, T, 2) is None) == (attn == "eager")
    monkeypatch.setattr(heads, "ATTN_BUDGET", 64 << 20)
    model.set_attn_implementation("eager")
    blind = heads.PrevToken(model, 3, T)  # attention that returns no patterns: not ok
    blind.mods = []
    main_pass(model, text, s, batch_size=2, prev=blind)
    assert not blind.ok
    assert model.config._attn_implementation == "eager"  # restored after each batch
