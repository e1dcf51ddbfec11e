"""The main pass agrees with the Hugging Face model's own numbers."""

import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, GPTNeoXForCausalLM

from pathdep.measure.forward import Samples, main_pass
from pathdep.measure.job import icl_score
from pathdep.measure.plan import icl_positions

from .suitekit import tiny_config


def _model(kind: str, vocab: int):
    torch.manual_seed(0)
    if kind == "gpt2":
        cfg = GPT2Config(vocab_size=vocab, n_embd=32, n_layer=2, n_head=4, n_positions=64)
        return GPT2LMHeadModel(cfg).eval()
    return GPTNeoXForCausalLM(tiny_config(vocab)).eval()


def _samples(n_seq, n_pos, top_k=None, hlayers=(0, 1, 2)):
    rng = np.random.default_rng(0)
    seq, pos = rng.integers(0, n_seq, 12), rng.integers(1, n_pos, 12)
    hseq, hpos = rng.integers(0, n_seq, 6), rng.integers(0, n_pos, 6)
    return Samples(seq, pos, hseq, hpos, list(hlayers), top_k)


@pytest.mark.parametrize("kind", ["gpt_neox", "gpt2"])
def test_logprob_mean_equals_hf_loss(kind):
    vocab, n_seq, T = 50, 6, 32
    model = _model(kind, vocab)
    tokens = np.random.default_rng(1).integers(0, vocab, (n_seq, T))
    res = main_pass(model, tokens, _samples(n_seq, T), batch_size=4)  # 4 + 2: uneven batches
    assert np.isnan(res.logprob[:, 0]).all() and np.isnan(res.entropy[:, 0]).all()
    with torch.no_grad():
        for i in range(n_seq):
            x = torch.as_tensor(tokens[i:i + 1])
            out = model(x, labels=x)
            assert abs(-res.logprob[i, 1:].mean() - out.loss.item()) < 1e-5
            lp = torch.log_softmax(out.logits[0, :-1].float(), -1)
            ent = -(lp.exp() * lp).sum(-1).numpy()
            np.testing.assert_allclose(res.entropy[i, 1:], ent, atol=1e-5)


def test_full_distributions_and_hidden_states():
    vocab, n_seq, T = 50, 5, 32
    model = _model("gpt_neox", vocab)
    tokens = np.random.default_rng(2).integers(0, vocab, (n_seq, T))
    s = _samples(n_seq, T)
    res = main_pass(model, tokens, s, batch_size=2)
    with torch.no_grad():
        out = model(torch.as_tensor(tokens), output_hidden_states=True)
    lp = torch.log_softmax(out.logits.float(), -1).numpy()
    np.testing.assert_allclose(res.dist_logp, lp[s.seq, s.pos - 1], atol=1e-5)
    assert (res.dist_ids == np.arange(vocab)).all() and np.isneginf(res.dist_rest).all()
    # the stored log-prob of the true token is the distribution's entry for it
    true = tokens[s.seq, s.pos]
    np.testing.assert_allclose(res.dist_logp[np.arange(len(true)), true],
                               res.logprob[s.seq, s.pos], atol=1e-6)
    hs = out.hidden_states  # (embeddings, after block 1, final-normed)
    for layer in (0, 1):
        np.testing.assert_allclose(res.hidden[layer], hs[layer][s.hseq, s.hpos].numpy(),
                                   rtol=2e-3, atol=2e-3)  # float16 storage
    final = model.gpt_neox.final_layer_norm(torch.as_tensor(res.hidden[2]).float())
    np.testing.assert_allclose(final.detach().numpy(), hs[2][s.hseq, s.hpos].numpy(), atol=5e-2)


def test_top_k_keeps_the_largest_and_the_rest_mass():
    vocab, n_seq, T = 300, 3, 32
    model = _model("gpt_neox", vocab)
    tokens = np.random.default_rng(3).integers(0, vocab, (n_seq, T))
    s = _samples(n_seq, T, top_k=20)
    res = main_pass(model, tokens, s, batch_size=3)
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.as_tensor(tokens)).logits.float(), -1).numpy()
    rows = lp[s.seq, s.pos - 1]
    top = np.sort(rows, axis=1)[:, ::-1][:, :20]
    np.testing.assert_allclose(res.dist_logp, top, atol=1e-5)
    np.testing.assert_allclose(np.take_along_axis(rows, res.dist_ids, 1), res.dist_logp, atol=1e-6)
    total = np.logaddexp(np.logaddexp.reduce(res.dist_logp, axis=1), res.dist_rest)
    np.testing.assert_allclose(total, 0, atol=1e-5)


def test_long_context_is_sliced_without_changing_results(monkeypatch):
    from pathdep.measure import forward as fwd

    vocab, n_seq, T = 50, 3, 32
    model = _model("gpt_neox", vocab)
    tokens = np.random.default_rng(4).integers(0, vocab, (n_seq, T))
    whole = main_pass(model, tokens, _samples(n_seq, T), batch_size=3)
    monkeypatch.setattr(fwd, "LOGIT_BUDGET", 3 * vocab * 5)  # slices of a few positions
    for bs, groups in ((3, 0), (2, 0), (3, 4)):  # 2: an uneven last batch; 4: rows in groups
        monkeypatch.setattr(fwd, "SUB_ROWS", groups)
        sliced = main_pass(model, tokens, _samples(n_seq, T), batch_size=bs)
        np.testing.assert_allclose(whole.logprob, sliced.logprob, atol=1e-6)
        np.testing.assert_allclose(whole.entropy, sliced.entropy, atol=1e-6)
        np.testing.assert_allclose(whole.dist_logp, sliced.dist_logp, atol=1e-6)


def test_icl_positions_scale_olsson():
    assert icl_positions(512) == (50, 500)
    early, late = icl_positions(32)
    assert 1 <= early < late <= 31
    lp = np.zeros((4, 32))
    lp[:, early], lp[:, late] = -2.0, -0.5  # loss 2.0 early, 0.5 late: learns in context
    assert icl_score(lp, early, late) == pytest.approx(0.5 - 2.0)
    lp[:, early], lp[:, late] = -0.5, -2.0  # worse late than early: positive
    assert icl_score(lp, early, late) == pytest.approx(2.0 - 0.5)
