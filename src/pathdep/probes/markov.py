"""Markov-mixture suites: which of four algorithms a model's in-context predictions follow.

Park et al. 2025 (methods.md §7). For a context x drawn from a chain, and every
state s appended as its last token, each algorithm predicts the next state:

- ``uni_ret``: posterior over the training chains from the unigram likelihood
  prod_j pi_i(x_j) (times the prior); prediction sum_i post_i pi_i;
- ``bi_ret``: posterior from the bigram likelihood pi_i(x_1) prod_j T_i(x_j -> x_j+1);
  prediction sum_i post_i T_i[x_last, :];
- ``bi_inf``: in-context transition counts with add-one smoothing, (c + 1) / (sum c + k);
- ``uni_inf``: the stationary distribution of the ``bi_inf`` matrix.

Each gives a k x k next-token matrix (row s: the context ending in s); so does
the model. The distance is the Markov KL sum_s pi(s) KL(model[s] || alg[s]),
pi the stationary distribution of the algorithm's matrix, averaged over
``n_rep`` contexts, on the training chains and on fresh Dirichlet chains (where
retrieval cannot be right). The dominant algorithm is the nearest one.

    res = compare_algorithms(model_predictor(model, state_ids), chains, prior, length=64)
    res["train"]["kl"], res["fresh"]["dominant"]

Run for every run x checkpoint of a suite by pathdep.analyze.markov_algorithms (and `pathdep run`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pathdep.data.markov import sample_sequences, stationary

ALGORITHMS = ("uni_ret", "bi_ret", "uni_inf", "bi_inf")
EPS = 1e-12


def _posterior(loglik: np.ndarray, prior: np.ndarray) -> np.ndarray:
    z = loglik + np.log(prior + EPS)
    z -= z.max()
    p = np.exp(z)
    return p / p.sum()


def predictions(ctx: np.ndarray, chains: np.ndarray, prior: np.ndarray,
                pis: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Each algorithm's next-state distribution (k,) after the context ``ctx`` (states);
    ``pis``: the chains' stationary distributions (N, k), computed when not given."""
    k = chains.shape[1]
    pis = np.stack([stationary(T) for T in chains]) if pis is None else pis
    uni = np.log(pis[:, ctx] + EPS).sum(1)  # (N,)
    bi = np.log(pis[:, ctx[0]] + EPS) + np.log(chains[:, ctx[:-1], ctx[1:]] + EPS).sum(1)
    counts = np.zeros((k, k))
    np.add.at(counts, (ctx[:-1], ctx[1:]), 1)
    T_inf = (counts + 1) / (counts.sum(1, keepdims=True) + k)
    return {
        "uni_ret": _posterior(uni, prior) @ pis,
        "bi_ret": _posterior(bi, prior) @ chains[:, ctx[-1], :],
        "uni_inf": stationary(T_inf),
        "bi_inf": T_inf[ctx[-1]],
    }


def algorithm_matrices(x: np.ndarray, chains: np.ndarray, prior: np.ndarray) -> dict[str, np.ndarray]:
    """Per algorithm, the (k, k) matrix whose row s predicts after the context x + [s]."""
    k = chains.shape[1]
    pis = np.stack([stationary(T) for T in chains])
    rows = [predictions(np.append(x, s), chains, prior, pis) for s in range(k)]
    return {a: np.stack([r[a] for r in rows]) for a in ALGORITHMS}


def markov_kl(P: np.ndarray, Q: np.ndarray) -> float:
    """sum_s pi_Q(s) KL(P[s] || Q[s]), pi_Q the stationary distribution of Q."""
    kl = (P * (np.log(P + EPS) - np.log(Q + EPS))).sum(1)
    return float(stationary(Q) @ kl)


def model_predictor(model, state_ids: list[int]) -> Callable[[np.ndarray], np.ndarray]:
    """(contexts (k, L) of states) -> (k, k): the model's next-state distributions at the end,
    renormalised over the state tokens ``state_ids``."""
    import torch

    ids = torch.tensor(state_ids)

    def predict(ctx: np.ndarray) -> np.ndarray:
        x = ids[torch.from_numpy(ctx).long()]
        with torch.inference_mode():
            logits = model(x).logits[:, -1, ids].float()
        return torch.softmax(logits, -1).double().numpy()

    return predict


def _kl_row(predict, data: tuple, chains, prior, length, n_rep, rng) -> dict:
    """Mean Markov KL to each algorithm over ``n_rep`` contexts from ``data`` (chains, prior)."""
    xs, _ = sample_sequences(*data, n_rep, length, rng)
    k = chains.shape[1]
    kl = {a: [] for a in ALGORITHMS}
    for x in xs:
        x = np.asarray(x)
        model_m = predict(np.stack([np.append(x, s) for s in range(k)]))
        for a, m in algorithm_matrices(x, chains, prior).items():
            kl[a].append(markov_kl(model_m, m))
    mean = {a: float(np.mean(v)) for a, v in kl.items()}
    return {"kl": mean, "dominant": min(mean, key=mean.get)}


def compare_algorithms(predict, chains: np.ndarray, prior: np.ndarray, *, length: int = 64,
                       n_rep: int = 8, seed: int = 0, alpha: float = 1.0) -> dict[str, dict]:
    """KL of the model to each algorithm, and the dominant one, on training and fresh chains."""
    rng = np.random.default_rng([seed, 11])
    n, k, _ = chains.shape
    fresh = rng.dirichlet(np.full(k, alpha), size=(n, k))
    uniform = np.full(n, 1 / n)
    return {"train": _kl_row(predict, (chains, prior), chains, prior, length, n_rep, rng),
            "fresh": _kl_row(predict, (fresh, uniform), chains, prior, length, n_rep, rng)}
