"""Outputs of every (run, prompt variant, temperature) cell, and the divergence between them.

``collect`` gathers, for one model and prompt set, the next-token
distribution at the end of each prompt variant (at each temperature) and the
outcome distribution of ``m`` sampled continuations (with its two halves, to
measure sampling noise). Sampling seeds depend on the prompt and temperature
but not on the variant or run, so identical inputs give identical samples.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from pathdep.models.sampler import model_device, sample


def js(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jensen–Shannon divergence in bits (0..1) over the last axis."""
    m = 0.5 * (a + b)

    def kl(p, q):
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1) / np.where(q > 0, q, 1)), 0.0)
        return t.sum(-1)

    return np.clip(0.5 * kl(a, m) + 0.5 * kl(b, m), 0.0, 1.0)


@dataclass
class Cells:
    """One run's outputs on one prompt: arrays over (variant, temperature, ·)."""

    next_token: np.ndarray  # (n_var, n_temp, V)
    outcomes: list[list[list[str]]]  # [variant][temperature] -> m outcome strings


@torch.no_grad()
def _last_logits(model, ids: list[int]) -> torch.Tensor:
    x = torch.tensor([ids], device=model_device(model))
    return model(input_ids=x).logits[0, -1].float().cpu()


def collect(lm, variants: list[str], temps: list[float], extract, *, m: int, max_new: int,
            seed: int, key: str) -> Cells:
    """Next-token distributions and sampled outcomes of one prompt's variants."""
    nt, outs = [], []
    for text in variants:
        ids = lm.encode(text)
        logits = _last_logits(lm.model, ids)
        nt.append([torch.softmax(logits / t, -1).numpy() for t in temps])
        row = []
        for t in temps:
            s = zlib.crc32(f"{seed}:{key}:{t}".encode())
            cont = sample(lm.model, torch.tensor([ids] * m), max_new, temperature=t, seed=s,
                          eos_id=lm.eos_id).tolist()
            row.append([extract(lm.decode(c)) for c in cont])
        outs.append(row)
    return Cells(np.array(nt), outs)


def outcome_dists(cells: list[Cells], half: int | None = None) -> np.ndarray:
    """Outcome histograms over a shared category list: (run, variant, temp, C)."""
    def part(o):
        return o if half is None else (o[: len(o) // 2] if half == 0 else o[len(o) // 2:])

    cats = sorted({x for c in cells for row in c.outcomes for o in row for x in o})
    out = np.zeros((len(cells), len(cells[0].outcomes), len(cells[0].outcomes[0]), len(cats)))
    for r, c in enumerate(cells):
        for v, row in enumerate(c.outcomes):
            for t, o in enumerate(row):
                cnt = Counter(part(o))
                out[r, v, t] = [cnt[k] for k in cats]
                out[r, v, t] /= max(out[r, v, t].sum(), 1)
    return out


def _pairs_mean(x: np.ndarray, axis: int) -> np.ndarray:
    """Mean JS over pairs i<j along ``axis`` (the distribution is the last axis)."""
    x = np.moveaxis(x, axis, 0)
    n = x.shape[0]
    vals = [js(x[i], x[j]) for i in range(n) for j in range(i + 1, n)]
    return np.mean(vals, axis=0) if vals else np.full(x.shape[1:-1], np.nan)


def components(x: np.ndarray, halves: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Per-run mean JS due to variant, temperature, noise; and run-pair JS matrix.

    ``x``: (run, variant, temp, D). Returns arrays: variant (run,), temperature
    (run,), noise (run,) (NaN without halves), run (run, run) (NaN diagonal).
    """
    n_r = x.shape[0]
    var = np.nanmean(_pairs_mean(x, 1), axis=-1) if x.shape[1] > 1 else np.full(n_r, np.nan)
    tmp = np.nanmean(_pairs_mean(x, 2), axis=-1) if x.shape[2] > 1 else np.full(n_r, np.nan)
    run = np.full((n_r, n_r), np.nan)
    for i in range(n_r):
        for j in range(n_r):
            if i != j:
                run[i, j] = float(js(x[i], x[j]).mean())
    noise = np.full(n_r, np.nan)
    if halves is not None:
        noise = js(halves[0], halves[1]).mean(axis=(1, 2))
    return {"variant": var, "temperature": tmp, "noise": noise, "run": run}
