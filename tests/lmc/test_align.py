"""Permutation alignment (issue 18 item 2): a permuted copy is recovered exactly and its barrier
vanishes; two init seeds' barrier falls after alignment."""

import copy

import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from pathdep.errors import PathdepError
from pathdep.lmc.align import _sizes, align, permutation_spec, permute
from pathdep.lmc.barrier import alpha_grid, interpolation_losses, loss_barrier


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    """Two init seeds of a 2-layer GPT-NeoX (d_model 64, 4 heads), 300 steps on Markov data."""
    from pathdep import api
    from pathdep.models.load import load_folder
    from pathdep.spec import parse_spec
    from tests.conftest import tiny_spec_dict

    out = tmp_path_factory.mktemp("align")
    d = tiny_spec_dict(model={"d_model": 64, "n_heads": 4},
                       train={"steps": 300, "checkpoints": [300], "lr": 3e-3},
                       grid={"seed": [0, 1], "data_seed": [0]},
                       data={"generator": "markov-mixture", "n_docs": 400, "n_eval_docs": 20,
                             "seq_len": 48})
    suite = api.train(parse_spec(d), out)
    ids = np.load(out / "data" / "train.npz")["ids"]
    models = [load_folder(r.checkpoints[-1].path)[0] for r in suite.runs]
    return models, ids[: 16 * 48].reshape(16, 48), ids[5000: 5000 + 32 * 48].reshape(32, 48)


def _permuted(model, seed=1):
    spec = permutation_spec(model)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(seed)
    perms = {p: rng.permutation(n) for p, n in _sizes(spec, state).items()}
    out = copy.deepcopy(model)
    out.load_state_dict(permute(state, spec, perms))
    return out.eval()


def test_a_permuted_gpt2_is_the_same_function_and_alignment_undoes_it():
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_embd=32, n_layer=2, n_head=4,
                                       n_positions=32, bos_token_id=0, eos_token_id=0)).eval()
    other = _permuted(model)
    x = torch.randint(0, 50, (4, 16))
    with torch.no_grad():
        torch.testing.assert_close(other(x).logits, model(x).logits, atol=1e-5, rtol=0)
    assert any(not torch.equal(model.state_dict()[k], other.state_dict()[k])
               for k in permutation_spec(model))
    for method in ("activations", "weights"):
        back, report = align(model, other, x.numpy(), method=method)
        for k, v in model.state_dict().items():
            torch.testing.assert_close(back.state_dict()[k], v, atol=0, rtol=0)
        assert report["moved"]["res"] > 0


def test_a_permuted_copy_has_a_barrier_that_alignment_removes(seeds):
    (a, _), tokens, fit = seeds[0], seeds[1], seeds[2]
    b = _permuted(a)
    g = alpha_grid()
    before = loss_barrier(g, interpolation_losses(a, b, tokens, g)).barrier
    aligned, _ = align(a, b, fit)
    after = loss_barrier(g, interpolation_losses(a, aligned, tokens, g)).barrier
    assert before > 0.01 and abs(after) < 1e-4, (before, after)


def test_two_init_seeds_barrier_falls_after_alignment(seeds):
    (a, b), tokens, fit = seeds
    g = alpha_grid()
    l0 = interpolation_losses(a, b, tokens, g)
    aligned, _ = align(a, b, fit)
    l1 = interpolation_losses(a, aligned, tokens, g)
    assert abs(l1[-1] - l0[-1]) < 1e-5  # the aligned model is the same function
    assert loss_barrier(g, l1).barrier < 0.8 * loss_barrier(g, l0).barrier


def test_unsupported_architectures_and_bad_methods_are_named(seeds):
    (a, b), _, _ = seeds
    with pytest.raises(PathdepError, match="unknown alignment method"):
        align(a, b, method="magic")
    with pytest.raises(PathdepError, match="needs tokens"):
        align(a, b)
    odd = copy.deepcopy(a)
    odd.config.model_type = "llama"
    with pytest.raises(PathdepError, match="GPT-NeoX and GPT-2"):
        permutation_spec(odd)


def test_alignment_undoes_an_independently_written_permutation():
    """tests/lmc/test_barrier.py's permuted twin (written without lmc/align.py's rules)."""
    from tests.lmc.test_barrier import permuted_twin, trained

    a = trained()
    twin = permuted_twin(a)
    tokens = np.random.default_rng(0).integers(0, a.config.vocab_size, (8, 24))
    for method in ("activations", "weights"):
        back, _ = align(a, twin, tokens, method=method)
        for k, v in a.state_dict().items():
            torch.testing.assert_close(back.state_dict()[k], v, atol=0, rtol=0)
