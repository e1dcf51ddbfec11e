"""The four algorithms of Park et al. (methods.md §7) and the model comparison."""

import numpy as np
import pytest

from pathdep.data.markov import stationary
from pathdep.probes.markov import (
    ALGORITHMS,
    algorithm_matrices,
    compare_algorithms,
    markov_kl,
    model_predictor,
    predictions,
)


@pytest.fixture
def mixture():
    rng = np.random.default_rng(0)
    return rng.dirichlet(np.ones(4), size=(3, 4)), np.array([0.2, 0.3, 0.5])


def test_inference_algorithms_by_hand(mixture):
    chains, prior = mixture
    ctx = np.array([0, 1, 0, 1, 2])
    p = predictions(ctx, chains, prior)
    T = np.ones((4, 4))
    T[0, 1] += 2
    T[1, 0] += 1
    T[1, 2] += 1
    T /= T.sum(1, keepdims=True)
    assert np.allclose(p["bi_inf"], T[2]) and np.allclose(p["uni_inf"], stationary(T))
    for a in ALGORITHMS:
        assert p[a].sum() == pytest.approx(1.0)


def test_retrieval_finds_the_chain_of_a_long_context(mixture):
    chains, prior = mixture
    from pathdep.data.markov import sample_sequences

    xs, which = sample_sequences(chains[2:], np.ones(1), 1, 400, np.random.default_rng(1))
    p = predictions(xs[0], chains, prior)
    assert np.allclose(p["bi_ret"], chains[2, xs[0][-1]], atol=1e-3)


def test_a_model_that_runs_an_algorithm_is_nearest_to_it(mixture):
    chains, prior = mixture
    for algo in ("bi_inf", "bi_ret"):
        def predict(ctx, algo=algo):  # the "model" is the algorithm itself
            return np.stack([predictions(c, chains, prior)[algo] for c in ctx])

        res = compare_algorithms(predict, chains, prior, length=32, n_rep=3)
        assert res["train"]["dominant"] == algo and res["train"]["kl"][algo] < 1e-9
        assert res["fresh"]["kl"][algo] < 1e-9


def test_markov_kl_and_model_predictor(mixture):
    import torch
    from transformers import GPTNeoXForCausalLM

    from tests.measure.suitekit import tiny_config

    chains, _ = mixture
    assert markov_kl(chains[0], chains[0]) == pytest.approx(0, abs=1e-9)
    assert markov_kl(chains[0], chains[1]) > 0
    torch.manual_seed(0)
    predict = model_predictor(GPTNeoXForCausalLM(tiny_config()), [0, 1, 2, 3])
    m = predict(np.stack([np.array([0, 1, s]) for s in range(4)]))
    assert m.shape == (4, 4) and np.allclose(m.sum(1), 1)
    mats = algorithm_matrices(np.array([0, 1, 2]), chains, np.ones(3) / 3)
    assert set(mats) == set(ALGORITHMS) and mats["bi_inf"].shape == (4, 4)
