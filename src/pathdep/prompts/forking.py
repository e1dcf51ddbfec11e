"""Forking tokens (Bigelow et al., ICLR 2025; methods.md §6) for one model and prompt.

``scan`` samples a base continuation x*, and at every index t resamples
``n`` continuations after x*_{<t} + w for each token w with p(w) ≥
``threshold`` (and the base token), mapping each to an outcome.
``outcome_series`` builds o_t = Σ_w p(w)·hist(outcome | t, w), normalised;
``forks`` finds change points of o_t (ruptures, l2 cost): a change point
between t and t+1 makes x*_t a forking token. ``drift_index`` gives the first
index whose o_t is further than a total-variation threshold from o_0, the
event the survival curve counts.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from pathdep.models.sampler import position_probs, sample

log = logging.getLogger(__name__)
OTHER = "Other"


@dataclass
class Branch:
    """The resamples at one index after one token ``token`` of probability ``p``."""

    token: int
    p: float
    outcomes: list[str]


@dataclass
class ForkScan:
    """Everything sampled for one (model, prompt): the raw material of the analysis."""

    prompt: str
    base: list[int]
    tokens: list[str]
    branches: list[list[Branch]] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> ForkScan:
        br = [[Branch(**b) for b in row] for row in d["branches"]]
        return cls(prompt=d["prompt"], base=d["base"], tokens=d["tokens"], branches=br)


def _until_eos(ids: list[int], eos_id: int | None) -> list[int]:
    return ids[: ids.index(eos_id) + 1] if eos_id is not None and eos_id in ids else ids


def scan(model, prompt_ids: list[int], decode: Callable[[list[int]], str],
         extract: Callable[[str], str], *, prompt: str = "", base: list[int] | None = None,
         max_new: int = 32, n: int = 30, threshold: float = 0.05, temperature: float = 1.0,
         greedy_base: bool = False, seed: int = 0, eos_id: int | None = None) -> ForkScan:
    """Sample the base path (unless given) and all resamples of one prompt."""
    if base is None:
        x = torch.tensor([prompt_ids])
        t_base = 0.0 if greedy_base else temperature
        base = sample(model, x, max_new, temperature=t_base, seed=seed, eos_id=eos_id)[0].tolist()
    base = _until_eos(list(base), eos_id)
    probs = position_probs(model, prompt_ids + base)[len(prompt_ids) - 1:]  # (L+1, V)
    res = ForkScan(prompt, base, [decode([b]) for b in base])
    for t in range(len(base)):
        p = probs[t]
        alts = sorted(set(torch.nonzero(p >= threshold)[:, 0].tolist()) | {base[t]})
        rows = torch.tensor([prompt_ids + base[:t] + [w] for w in alts for _ in range(n)])
        cont = sample(model, rows, len(base) - t - 1, temperature=temperature,
                      seed=seed + 1 + t, eos_id=eos_id).tolist()
        outs = [extract(decode(_until_eos(base[:t] + [w] + c, eos_id)))
                for w, c in zip([w for w in alts for _ in range(n)], cont, strict=True)]
        res.branches.append([Branch(w, float(p[w]), outs[i * n:(i + 1) * n])
                             for i, w in enumerate(alts)])
        log.debug("index %d: %d alternatives", t, len(alts))
    return res


def _hist(outcomes: list[str], cats: list[str]) -> np.ndarray:
    c = Counter(o if o in cats else OTHER for o in outcomes)
    h = np.array([c[k] for k in cats], dtype=float)
    return h / max(h.sum(), 1.0)


def categories(scan_: ForkScan, top: int = 6, min_max_p: float = 0.1) -> list[str]:
    """Outcomes shown by name: the ``top`` with the highest max_t o_t ≥ ``min_max_p``; + Other."""
    every = sorted({o for row in scan_.branches for b in row for o in b.outcomes})
    raw = outcome_series(scan_, every + [OTHER])
    peak = raw.max(axis=0)[:-1] if len(raw) else np.zeros(len(every))
    keep = [every[i] for i in np.argsort(-peak, kind="stable")[:top] if peak[i] >= min_max_p]
    return sorted(keep) + [OTHER]


def outcome_series(scan_: ForkScan, cats: list[str], half: int | None = None) -> np.ndarray:
    """o_t for every index: (L, C). ``half`` 0/1 uses only that half of each branch's samples."""
    rows = []
    for row in scan_.branches:
        w = np.array([b.p for b in row])
        hs = []
        for b in row:
            outs = b.outcomes
            if half is not None:
                m = len(outs) // 2
                outs = outs[:m] if half == 0 else outs[m:]
            hs.append(_hist(outs, cats))
        rows.append((w[:, None] * np.array(hs)).sum(0) / max(w.sum(), 1e-12))
    return np.array(rows).reshape(len(rows), len(cats))


def noise_var(scan_: ForkScan, o: np.ndarray) -> np.ndarray:
    """Sampling variance of each o_t (summed over outcomes): (1 − Σo²)·Σ_w q_w²/N_w."""
    v = []
    for row, ot in zip(scan_.branches, o, strict=True):
        q = np.array([b.p for b in row])
        q = q / max(q.sum(), 1e-12)
        v.append((1 - float(ot @ ot)) * float(sum(qi**2 / max(len(b.outcomes), 1)
                                                   for qi, b in zip(q, row, strict=True))))
    return np.array(v)


def tv(a: np.ndarray, b: np.ndarray) -> float:
    return 0.5 * float(np.abs(a - b).sum())


def forks(o: np.ndarray, var: np.ndarray | None = None, *, pen: float | None = None,
          min_tv: float = 0.15, min_size: int = 2, pen_scale: float = 8.0) -> list[int]:
    """Forking-token indices: change points of o_t (PELT, l2), as the index before the change.

    The default penalty is ``pen_scale``·mean sampling variance·log L (a BIC
    with known noise); a change point whose adjacent segment means differ by
    less than ``min_tv`` in total variation is dropped.
    """
    import ruptures as rpt

    n = len(o)
    if n < 2 * min_size:
        return []
    if pen is None:
        v = float(np.mean(var)) if var is not None and len(var) else 0.0
        pen = max(pen_scale * v * np.log(n), 1e-6)
    bk = rpt.Pelt(model="l2", min_size=min_size, jump=1).fit(o).predict(pen=pen)
    bounds = [0] + bk
    out = []
    for i in range(1, len(bounds) - 1):
        left = o[bounds[i - 1]:bounds[i]].mean(0)
        right = o[bounds[i]:bounds[i + 1]].mean(0)
        if tv(left, right) >= min_tv:
            out.append(bounds[i] - 1)
    return out


def drift_index(o: np.ndarray, threshold: float = 0.3) -> int | None:
    """The first index t with TV(o_t, o_0) > ``threshold``; None if it never drifts."""
    for t in range(len(o)):
        if tv(o[t], o[0]) > threshold:
            return t
    return None


def survival(drifts: list[int | None], length: int) -> np.ndarray:
    """S(t) = share of scans whose outcome has not drifted by index t: (length,)."""
    d = np.array([length if x is None else x for x in drifts], dtype=float)
    return np.array([(d > t).mean() if len(d) else np.nan for t in range(length)])


def overlap(a: list[int], b: list[int], tol: int = 0) -> float:
    """Overlap of two sets of fork positions (positions within ``tol`` match); 1 if both empty."""
    if not a and not b:
        return 1.0
    hit_a = sum(any(abs(x - y) <= tol for y in b) for x in a)
    hit_b = sum(any(abs(x - y) <= tol for x in a) for y in b)
    return (hit_a + hit_b) / (len(a) + len(b))
