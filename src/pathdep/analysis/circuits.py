"""When a head counts as *formed*: one definition per head kind, for every analysis.

    from pathdep.analysis import circuits
    circuits.formed(scores, kinds, "induction")   # (..., layer, head) bool
    circuits.strongest(ds, "induction")           # (run, step): the role's score of its best head

Head scores are those of ``measure/heads.py`` (methods.md §1; docs/circuits.md),
each on a scale where a perfect head scores 1:

- a **previous-token head** has ``previous_token >= 0.4``;
- an **induction head** has ``induction`` (prefix matching) ``>= 0.4`` *and*
  copies: Olsson et al. 2022 ("In-context Learning and Induction Heads", Model
  Analysis Table) define induction heads by both conditions, a head that
  attends to the token after an earlier copy *and* raises that token's logit.
  Copying is judged by the sign of ``ov_eigen`` (Σλ/Σ|λ| of the head's OV
  circuit, Olsson et al.'s mathematical check of copying, > 0); stores measured
  before it existed fall back to the copying score (``copying > 0``). Where
  neither can be measured (NaN: an architecture without an OV reader,
  measure/heads.py) the prefix-matching condition alone decides.

Why the eigenvalues and not the copying score: trained 2-layer heads of 32
dims that prefix-match at 0.6-0.75 give the attended token 3-5 times its chance
share of the raise over the sample's 15 tokens (copying score -0.3 to -0.6),
while their OV eigenvalues are 0.8-0.9 positive; the copying score's zero asks
the attended token to out-raise all the others together, which a head with
fewer dimensions than the sample has tokens cannot do (docs/circuits.md).

0.4 is the threshold at which ARENA's notes name the induction heads of
``attn-only-2l`` (methods.md §1, a third-party note); uniform attention over a
100-token sequence scores about 0.02 on either pattern, so 0.4 is far above
chance. A run has *formed* a role from the first checkpoint at which some head
holds it in a spell of :data:`SPELL` checkpoints (:func:`stable`,
:func:`first_formed`): circuit survival (analyze/circuit_survival.py) assigns
roles with it, and phase changes (analyze/phase_changes.py) count the runs that
formed with it and date the change on :func:`strongest`, so the two cannot
disagree on which runs formed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import xarray as xr

from pathdep.analysis import data

ROLES = ("previous_token", "induction")
THRESHOLD = {"previous_token": 0.4, "induction": 0.4}  # the role's own score, at least
COPYING_MIN = 0.0  # an induction head's copying measure, more than (Olsson et al. 2022)
COPYING_KINDS = ("ov_eigen", "copying")  # the first of these the store holds judges copying


def role_score(scores: np.ndarray, kinds: Sequence[str], role: str) -> np.ndarray:
    """``scores (..., kind)`` -> the role's score per head, 0 where a side condition fails.

    An induction head's prefix-matching score counts only while the head copies:
    its ``ov_eigen`` (or, in older stores, ``copying``) is above COPYING_MIN or
    not measured. A previous-token head has no side condition. NaN (not
    measured) stays NaN.
    """
    kinds = [str(k) for k in kinds]
    if role not in THRESHOLD:
        raise ValueError(f"role {role!r} is not one of {ROLES}")
    own = scores[..., kinds.index(role)]
    judge = next((k for k in COPYING_KINDS if k in kinds), None)
    if role != "induction" or judge is None:
        return own
    copying = scores[..., kinds.index(judge)]
    copies = np.isnan(copying) | (copying > COPYING_MIN)
    return np.where(copies | np.isnan(own), own, 0.0)


def formed(scores: np.ndarray, kinds: Sequence[str], role: str,
           threshold: float | None = None) -> np.ndarray:
    """``scores (..., kind)`` -> bool per head: it holds ``role`` (NaN holds nothing).

    ``threshold`` replaces THRESHOLD[role] (the side conditions stay).
    """
    t = THRESHOLD[role] if threshold is None else threshold
    return np.nan_to_num(role_score(scores, kinds, role), nan=-np.inf) >= t


def _scores(ds: xr.Dataset) -> tuple[np.ndarray, list[str]]:
    """head_score as (run, step, layer_h, head, kind), not-done cells NaN, and its kinds."""
    hs = data.masked(ds, "head_score").transpose("run", "step", "layer_h", "head", "kind")
    return hs.values, [str(k) for k in hs["kind"].values]


def strongest(ds: xr.Dataset, role: str) -> np.ndarray:
    """(run, step): the role's score (:func:`role_score`) of the run's best head.

    The run has a formed head of that role at a step iff this is >= THRESHOLD[role];
    NaN where no head was measured.
    """
    sc, kinds = _scores(ds)
    if role not in kinds:
        raise data.Skip(f"head_score has no kind {role!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: not measured
        return np.nanmax(role_score(sc, kinds, role), axis=(2, 3))


def held(ds: xr.Dataset, role: str, threshold: float | None = None) -> np.ndarray:
    """(run, step, layer_h * head) bool: which heads hold the role at each step."""
    sc, kinds = _scores(ds)
    f = formed(sc, kinds, role, threshold)
    return f.reshape(*f.shape[:2], -1)


def describe(role: str) -> str:
    """The definition in words, for verdicts: 'induction score >= 0.4 and the head copies
    (OV eigenvalues Σλ/Σ|λ| > 0)'."""
    s = f"{role.replace('_', '-')} score >= {THRESHOLD[role]:g}"
    return (s + f" and the head copies (OV eigenvalues Σλ/Σ|λ| > {COPYING_MIN:g})"
            if role == "induction" else s)


SPELL = 3  # checkpoints in a row a head must hold a role for it to count (docs/calibration.md)


def stable(held: np.ndarray, spell: int = SPELL) -> np.ndarray:
    """(step, head): the head holds the role in a spell of at least ``spell`` consecutive
    checkpoints including this one (shorter spells above the threshold are noise), or up to
    the last checkpoint from at least ``spell - 1`` before it (a role gained at the end)."""
    out = np.zeros_like(held)
    n = len(held)
    for h in range(held.shape[1]):
        on = np.r_[False, held[:, h], False].astype(int)
        starts, ends = np.flatnonzero(np.diff(on) == 1), np.flatnonzero(np.diff(on) == -1)
        for a, b in zip(starts, ends, strict=True):
            if b - a >= spell or (b == n and b - a >= min(spell - 1, n)):
                out[a:b, h] = True
    return out


def first_formed(ds: xr.Dataset, role: str, threshold: float | None = None) -> np.ndarray:
    """(run,): the first measured step at which a head holds ``role`` in a spell of
    :data:`SPELL` checkpoints (:func:`stable`); NaN where no head ever does."""
    roles, st, done = held(ds, role, threshold), data.steps(ds), data.done(ds)
    out = np.full(roles.shape[0], np.nan)
    for r in range(roles.shape[0]):
        ok = np.flatnonzero(done[r])
        alive = np.flatnonzero(stable(roles[r, ok]).any(1)) if ok.size else []
        if len(alive):
            out[r] = float(st[ok[alive[0]]])
    return out
