"""The `markov-mixture` generator: a finite mixture of Markov chains (Park et al.).

Source: Park, Lubana, Pres, Tanaka, "Competition Dynamics Shape Algorithmic
Phases of In-Context Learning", ICLR 2025 (arXiv 2412.01003); code
cfpark00/markov-mixtures (``get_markov_matrix_dirichlet``). See
shared/reference/methods.md §7.

k states; N chains whose transition rows are Dirichlet(alpha * 1_k); a prior
over chains (random, ~U(0, 2/N) normalised, as in the paper's configs, or
uniform); each sequence picks a chain from the prior, draws its first state
from the chain's stationary distribution and unrolls ``seq_len`` states.
States are written as tokens ``s0 … s{k-1}``; the data brings its own
word-level tokenizer, so token id == state index.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from pathdep.data.base import Corpus, Split, split_seed
from pathdep.data.tokenizer import word_level

EOS = "<|endoftext|>"


class MarkovConfig(BaseModel):
    """Options of the markov-mixture generator."""

    model_config = ConfigDict(extra="forbid")

    generator: Literal["markov-mixture"] = "markov-mixture"
    seed: int = Field(0, description="Seed of the chains and the sequences.")
    k: int = Field(10, ge=2, le=1000, description="States per chain.")
    n_chains: int = Field(8, ge=1, description="Chains in the mixture (N).")
    alpha: float = Field(1.0, gt=0, description="Dirichlet concentration of transition rows.")
    prior: Literal["random", "uniform"] = Field("random", description="Prior over chains.")
    seq_len: int = Field(128, ge=2, description="States per sequence (l).")
    n_docs: int = Field(2000, ge=1, description="Training sequences.")
    n_eval_docs: int = Field(200, ge=1, description="Held-out sequences (same chains).")


def stationary(T: np.ndarray) -> np.ndarray:
    """Stationary distribution of a row-stochastic matrix (left eigenvector for 1)."""
    w, v = np.linalg.eig(T.T)
    pi = np.real(v[:, np.argmin(np.abs(w - 1))])
    pi = np.abs(pi)
    return pi / pi.sum()


def make_chains(cfg: MarkovConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(chains[N, k, k], prior[N]) as in get_markov_matrix_dirichlet and the configs' ps."""
    chains = rng.dirichlet(np.full(cfg.k, cfg.alpha), size=(cfg.n_chains, cfg.k))
    if cfg.prior == "uniform":
        prior = np.full(cfg.n_chains, 1.0 / cfg.n_chains)
    else:
        prior = rng.uniform(0, 2.0 / cfg.n_chains, size=cfg.n_chains) + 1e-12
        prior /= prior.sum()
    return chains, prior


def sample_sequences(chains, prior, n: int, length: int, rng: np.random.Generator):
    """(states[n, length], chain index[n]) unrolled from the stationary start."""
    k = chains.shape[1]
    which = rng.choice(len(chains), size=n, p=prior)
    pis = np.stack([stationary(T) for T in chains])
    cum = np.cumsum(chains, axis=2)
    out = np.empty((n, length), dtype=np.int64)
    out[:, 0] = [rng.choice(k, p=pis[c]) for c in which]
    u = rng.random((n, length))
    for t in range(1, length):
        rows = cum[which, out[:, t - 1]]  # (n, k)
        out[:, t] = np.minimum((u[:, t, None] > rows).sum(axis=1), k - 1)
    return out, which


def tokenizer_for(k: int):
    """A word-level tokenizer whose ids are the states, plus an end-of-text token."""
    return word_level([f"s{i}" for i in range(k)])


def generate(cfg: MarkovConfig, split: Split) -> Corpus:
    """Sequences from one fixed mixture; train and eval share the chains, not the draws."""
    chains, prior = make_chains(cfg, np.random.default_rng(cfg.seed))
    rng = np.random.default_rng([cfg.seed, split_seed(cfg.seed, split)])
    n = cfg.n_docs if split == "train" else cfg.n_eval_docs
    states, which = sample_sequences(chains, prior, n, cfg.seq_len, rng)
    docs = [" ".join(f"s{s}" for s in row) for row in states]
    ann = [{"chain": int(c)} for c in which]
    info = {
        "generator": "markov-mixture",
        "k": cfg.k,
        "chains": chains.tolist(),
        "prior": prior.tolist(),
    }
    return Corpus(docs=docs, annotations=ann, info=info, tokenizer=tokenizer_for(cfg.k))
