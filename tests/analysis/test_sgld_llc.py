"""The LLC estimate (devinterp's SGLD) against a known answer, and the divergence flag.

Known answer: a bigram language model whose logit table is a free parameter is a
regular model (its Fisher information is non-degenerate once each row's softmax
shift is removed), so its learning coefficient is d/2 (Watanabe 2009; Lau et al.
2023, arXiv 2308.12108, section 3), d = (free rows) x (V - 1). Freezing rows of
the table (a buffer, not a parameter) leaves the same data and the same fitted
function with fewer effective parameters, so the estimate must fall with them,
in proportion.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("devinterp")

from pathdep.analysis.sgld_llc import SGLDSettings, divergence, estimate  # noqa: E402

V = 8  # vocabulary
KNOWN = SGLDSettings(lr=1e-2, nbeta=900.0, localization=1.0, chains=2, draws=300,
                     batch_size=32, init_batches=8)


def _bigram_data(n_seq: int = 256, length: int = 33, seed: int = 0):
    """Sequences of a random bigram chain, and the table of its maximum-likelihood logits."""
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(V) * 3, size=V)
    toks = np.zeros((n_seq, length), int)
    toks[:, 0] = rng.integers(0, V, n_seq)
    for t in range(1, length):
        u = rng.random(n_seq)
        toks[:, t] = (P[toks[:, t - 1]].cumsum(1) < u[:, None]).sum(1)
    counts = np.full((V, V), 0.5)
    np.add.at(counts, (toks[:, :-1].ravel(), toks[:, 1:].ravel()), 1)
    return toks, np.log(counts / counts.sum(1, keepdims=True))


class Bigram(torch.nn.Module):
    """logits[x] = table[x]; the first ``free`` rows are parameters, the others frozen."""

    def __init__(self, table: np.ndarray, free: int):
        super().__init__()
        t = torch.tensor(table, dtype=torch.float32)
        self.free = torch.nn.Parameter(t[:free].clone())
        self.register_buffer("fixed", t[free:].clone())

    def forward(self, x):  # (batch, pos) -> (batch, pos, V)
        return torch.cat([self.free, self.fixed])[x]


@pytest.fixture(scope="module")
def estimates():
    torch.set_num_threads(1)
    toks, table = _bigram_data()
    return {free: estimate(Bigram(table, free), toks, KNOWN) for free in (2, 4, 8)}


def test_the_llc_of_a_regular_model_is_half_its_effective_parameters(estimates):
    for free, e in estimates.items():
        d = free * (V - 1)
        assert not e.diverged.any(), e.why
        assert e.llc_mean == pytest.approx(d / 2, rel=0.3), (free, e.llc_per_chain)


def test_more_effective_parameters_give_a_higher_llc_in_proportion(estimates):
    llc = [estimates[f].llc_mean for f in (2, 4, 8)]
    assert llc[0] < llc[1] < llc[2]  # a constant or flipped estimate fails here
    assert 1.5 < llc[1] / llc[0] < 2.7 and 1.5 < llc[2] / llc[1] < 2.7


def test_the_traces_are_the_chains_losses_from_the_checkpoint_on(estimates):
    e = estimates[8]
    assert e.traces.shape == (KNOWN.chains, KNOWN.draws)
    assert np.all(e.traces.mean(1) > e.init_loss)  # the posterior sits above the minimum
    assert np.isclose(e.llc_per_chain, KNOWN.nbeta * (e.traces.mean(1) - e.init_loss),
                      rtol=1e-4).all()


def test_a_chain_diverges_when_its_loss_is_not_finite_or_still_rising():
    rng = np.random.default_rng(0)
    flat = 2.0 + 0.1 * (1 - np.exp(-np.arange(60) / 3)) + rng.normal(0, 0.01, 60)
    assert divergence(flat, 2.0) == ""
    rising = 2.0 + 0.05 * np.arange(60) + rng.normal(0, 0.01, 60)
    assert "rising" in divergence(rising, 2.0)
    assert divergence(np.r_[flat[:30], [np.nan] * 30], 2.0) == "loss not finite"
