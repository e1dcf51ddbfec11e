"""Token strings, contexts and categories, for showing and grouping individual tokens.

Categories (a token can be in several): ``punctuation``, ``digit``,
``capitalised``, ``bracket``, ``whitespace`` (from the decoded string);
``frequent`` (its id is among the most common ids that together make up half
of the evaluation tokens) and ``rare`` (among the least common ids that make up
the last 10 %); ``early_position`` (pos < 8) and ``late_position`` (pos ≥ half
the context). Strings come from the data: they stay plain text here, and the
report escapes them.
"""

from __future__ import annotations

import string

import numpy as np
import pandas as pd
import xarray as xr

BRACKETS = set("()[]{}<>")
PUNCT = set(string.punctuation)
CATEGORIES = ("punctuation", "digit", "capitalised", "bracket", "whitespace", "frequent", "rare",
              "early_position", "late_position")


def strings(ds: xr.Dataset, idx: np.ndarray) -> list[str]:
    """Decoded strings of flat token indices (token ids as text without ``token_str``)."""
    idx = np.asarray(idx, dtype=np.int64)
    n_pos = ds.sizes["pos"]
    name = "token_str" if "token_str" in ds.variables else "tokens"
    if name not in ds.variables:
        return ["?"] * len(idx)
    seqs = np.unique(idx // n_pos)
    rows = np.asarray(ds[name].isel(seq=seqs).transpose("seq", "pos").values)
    where = np.searchsorted(seqs, idx // n_pos)
    return [str(v) for v in rows[where, idx % n_pos]]


def contexts(ds: xr.Dataset, idx: np.ndarray, width: int = 10) -> list[str]:
    """For each flat token index: the preceding ``width`` tokens, then the token in ⟦ ⟧.

    All the strings needed are read in one go (one read of the store per call).
    """
    idx = np.asarray(idx, dtype=np.int64)
    if not len(idx):
        return []
    n_pos = ds.sizes["pos"]
    starts = idx - np.minimum(idx % n_pos, width)  # never reach into the previous sequence
    windows = [np.arange(a, i + 1) for a, i in zip(starts, idx, strict=True)]
    flat = np.concatenate(windows)
    uniq, inv = np.unique(flat, return_inverse=True)
    strs = np.array(strings(ds, uniq), dtype=object)[inv]
    out, k = [], 0
    for w in windows:
        toks = strs[k:k + len(w)]
        k += len(w)
        out.append("".join(toks[:-1]) + "⟦" + toks[-1] + "⟧")
    return out


def _char_flags(tok: str) -> dict[str, bool]:
    core = tok.strip().lstrip("Ġ▁")
    if core.startswith("<|") and core.endswith("|>"):  # a special token (<|endoftext|>) is not a
        core = "special"                             # bracket or punctuation: a plain word
    alpha = [c for c in core if c.isalpha()]
    return {
        "punctuation": bool(core) and all(c in PUNCT for c in core),
        "digit": any(c.isdigit() for c in core),
        "capitalised": bool(alpha) and alpha[0].isupper(),
        "bracket": any(c in BRACKETS for c in core),
        "whitespace": not core,
    }


def _frequency_flags(ds: xr.Dataset, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if "tokens" not in ds.variables:
        z = np.zeros(len(idx), bool)
        return z, z
    ids = np.asarray(ds["tokens"].transpose("seq", "pos").values).reshape(-1)
    uniq, counts = np.unique(ids, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    cover = np.cumsum(counts[order]) / counts.sum()
    frequent_ids = uniq[order][cover - counts[order] / counts.sum() < 0.5]
    rare_ids = uniq[order][cover > 0.9]
    mine = ids[np.asarray(idx, dtype=np.int64)]
    return np.isin(mine, frequent_ids), np.isin(mine, rare_ids)


def _string_flags(ds: xr.Dataset, idx: np.ndarray) -> pd.DataFrame:
    """Character-class flags, computed once per distinct token id (not per token)."""
    cols = list(CATEGORIES[:5])
    if "token_str" not in ds.variables:
        return pd.DataFrame(False, index=range(len(idx)), columns=cols)
    if "tokens" not in ds.variables:
        return pd.DataFrame([_char_flags(t) for t in strings(ds, idx)], columns=cols)
    ids = np.asarray(ds["tokens"].transpose("seq", "pos").values).reshape(-1)
    uniq, first = np.unique(ids, return_index=True)
    flags = pd.DataFrame([_char_flags(t) for t in strings(ds, first)], columns=cols)
    return flags.iloc[np.searchsorted(uniq, ids[idx])].reset_index(drop=True)


def categories(ds: xr.Dataset, idx: np.ndarray) -> pd.DataFrame:
    """Boolean table (one row per flat token index) of the CATEGORIES."""
    idx = np.asarray(idx, dtype=np.int64)
    df = _string_flags(ds, idx)
    df["frequent"], df["rare"] = _frequency_flags(ds, idx)
    pos = idx % ds.sizes["pos"]
    df["early_position"] = pos < 8
    df["late_position"] = pos >= ds.sizes["pos"] // 2
    return df.astype(bool)


def enrichment(cats: pd.DataFrame, selected: np.ndarray) -> pd.DataFrame:
    """How over-represented each category is among ``selected`` rows (bool mask).

    Columns: share among all, share among selected, lift (ratio) and a
    one-sided Fisher exact p-value for over-representation.
    """
    from scipy.stats import fisher_exact

    rows = []
    sel = np.asarray(selected, bool)
    for c in cats.columns:
        x = cats[c].to_numpy()
        a, b = int((x & sel).sum()), int((~x & sel).sum())
        c_, d = int((x & ~sel).sum()), int((~x & ~sel).sum())
        share_all, share_sel = x.mean(), (a / sel.sum() if sel.any() else np.nan)
        p = fisher_exact([[a, b], [c_, d]], alternative="greater")[1] if sel.any() else np.nan
        lift = share_sel / share_all if share_all > 0 else np.nan
        rows.append({"category": c, "share_all": share_all, "share_selected": share_sel,
                     "lift": lift, "p_value": p, "n_selected": a})
    return pd.DataFrame(rows).sort_values("lift", ascending=False, na_position="last")



def stratified_p(cats: pd.DataFrame, selected: np.ndarray, strata: np.ndarray,
                 n_perm: int = 500, seed: int = 0) -> pd.Series:
    """Per category, a permutation p-value for over-representation among ``selected`` rows that
    keeps each stratum's number of selected rows, family-wise over the categories.

    The selection is permuted within each stratum (e.g. deciles of token difficulty), so a
    category is not "over-represented" because it is harder or easier than the rest; each
    category's count is standardised by its permutation mean and s.d., and its p-value is
    the share of permutations whose *largest* standardised count over all categories reaches
    it (Westfall & Young 1993's max-T step, single-step), so the chance that any category is
    called over-represented under the null is at most the level, however many are tested.
    Fisher's exact test (:func:`enrichment`) treats the rows as independent and the
    categories one at a time; on simulated suites with no category effect it fired in 17 % of
    suites of 4 runs (docs/calibration.md).
    """
    rng = np.random.default_rng(seed)
    x = cats.to_numpy(dtype=float)  # (row, category)
    sel = np.asarray(selected, bool)
    perms = np.zeros((n_perm, len(sel)), bool)
    for s in np.unique(strata):
        rows = np.flatnonzero(strata == s)
        k = int(sel[rows].sum())
        if k:
            pick = np.argsort(rng.random((n_perm, len(rows))), axis=1)[:, :k]
            perms[np.arange(n_perm)[:, None], rows[pick]] = True
    null = perms.astype(float) @ x  # (perm, category) counts
    mu, sd = null.mean(0), null.std(0)
    sd = np.where(sd > 0, sd, np.inf)
    z_obs, z_null = (sel.astype(float) @ x - mu) / sd, ((null - mu) / sd).max(1)
    p = (1 + (z_null[None, :] >= z_obs[:, None] - 1e-12).sum(1)) / (1 + n_perm)
    return pd.Series(np.where(np.isfinite(sd), p, 1.0), index=cats.columns)
