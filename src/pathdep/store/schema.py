"""The per-job variables of the measurement store: dims, dtype, fill value (docs/store.md).

Every variable here has ``run, step`` as its first two dims and is chunked
1 x 1 on them, so each (run, step) job writes only its own chunks. Sizes of
the other dims come from :class:`Dims`, fixed when the store is created.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

KINDS = ("previous_token", "duplicate_token", "induction", "copying", "ov_eigen")
#: Weight statistics per checkpoint (measure/weights.py); stores created before them have none.
WSTATS = ("weight_l1", "weight_l2", "sv_mean", "sv_var", "sv_max")
CHUNK_BYTES = 16 << 20  # target size of one logprob / entropy chunk


@dataclass(frozen=True)
class Dims:
    """Sizes of the store's dimensions (besides run and step)."""

    seq: int
    pos: int
    sample: int
    k: int
    hsample: int
    hlayer: int
    layer_h: int
    head: int
    d: int
    kind: int = len(KINDS)
    probe: int = 0  # behaviour probes (0: the store has none, as before issue 4)
    item: int = 0  # probe items
    wstat: int = 0  # weight statistics (0: the store has none, as before issue 18)

    def as_dict(self) -> dict[str, int]:
        """The sizes; ``probe`` and ``item`` only when there are probes, ``wstat`` only with
        weight statistics (older stores lack them, and keep their layout digest)."""
        d = asdict(self)
        if not self.probe:
            d.pop("probe"), d.pop("item")
        if not self.wstat:
            d.pop("wstat")
        return d


@dataclass(frozen=True)
class Var:
    """One per-job variable."""

    dims: tuple[str, ...]  # after run, step
    dtype: str
    fill: object


PROBE_VARS = {
    "behavior": Var(("probe",), "float32", np.nan),
    "behavior_margin": Var(("probe",), "float32", np.nan),
    "probe_item_correct": Var(("item",), "float32", np.nan),
    "probe_item_margin": Var(("item",), "float32", np.nan),
}

WEIGHT_VARS = {"weight_stats": Var(("wstat",), "float64", np.nan)}


def job_vars(logprob_dtype: str = "float32", dims: Dims | None = None) -> dict[str, Var]:
    """The variables a job writes, in writing order (``done`` is written last, separately);
    the probe variables only when ``dims`` has probes, ``weight_stats`` only with ``wstat``."""
    probes = PROBE_VARS if dims is not None and dims.probe else {}
    weights = WEIGHT_VARS if dims is not None and dims.wstat else {}
    return probes | weights | {
        "logprob": Var(("seq", "pos"), logprob_dtype, np.nan),
        "entropy": Var(("seq", "pos"), "float32", np.nan),
        "dist_logp": Var(("sample", "k"), "float32", np.nan),
        "dist_ids": Var(("sample", "k"), "int32", -1),
        "dist_rest": Var(("sample",), "float32", np.nan),
        "head_score": Var(("layer_h", "head", "kind"), "float32", np.nan),
        "icl_score": Var((), "float32", np.nan),
        "hidden": Var(("hlayer", "hsample", "d"), "float16", np.nan),
        "loss": Var((), "float32", np.nan),
        "train_loss": Var((), "float32", np.nan),
        "tokens_seen": Var((), "int64", -1),
    }


DONE = Var((), "bool", False)

# Attributes written on each per-job variable (CF-style ``units`` and ``long_name``), so a
# reader of the Zarr store sees what a variable holds without docs/store.md (issue 16).
VAR_ATTRS: dict[str, dict[str, str]] = {
    "logprob": {"units": "nats", "long_name": "log p(tokens[seq, pos] | tokens[seq, :pos]); NaN at pos 0"},
    "entropy": {"units": "nats", "long_name": "entropy of the predictive distribution at (seq, pos)"},
    "dist_logp": {"units": "nats", "long_name": "log-probs of the kept vocabulary entries per sampled position"},
    # -1 pads (not masked: ids stay integers to index with); valid_min declares it
    "dist_ids": {"units": "token id", "long_name": "token ids of the kept entries (-1: padding)", "valid_min": 0},
    "dist_rest": {"units": "nats", "long_name": "log of the probability mass not kept (-inf: whole vocabulary kept)"},
    "head_score": {"units": "1", "long_name": "per-head scores by kind (docs/circuits.md); NaN-padded for smaller models"},
    "icl_score": {"units": "nats", "long_name": "mean loss at the late position minus at the early one (attrs icl_*_pos)"},
    "hidden": {"units": "1", "long_name": "residual-stream samples at (hsample_seq, hsample_pos)"},
    "loss": {"units": "nats", "long_name": "mean of -logprob over positions 1..T-1 (evaluation loss)"},
    "train_loss": {"units": "nats", "long_name": "training loss from the checkpoint sidecar (NaN: unknown)"},
    # -1 (unknown) is declared as _FillValue, so xarray reads it as NaN (float64) and .mean() skips it
    "tokens_seen": {"units": "tokens", "long_name": "tokens seen in training at that step (NaN: unknown)", "_FillValue": -1},
    "done": {"units": "1", "long_name": "the job (run, step) is completely written"},
    "behavior": {"units": "1", "long_name": "probe accuracy: share of items right (probe_scoring: sum or mean)"},
    "behavior_margin": {"units": "nats", "long_name": "mean item margin, best correct - best incorrect (per token for mean probes)"},
    "probe_item_correct": {"units": "1", "long_name": "1 if the item is right, 0 if wrong"},
    "probe_item_margin": {"units": "nats", "long_name": "the item's margin (per token for mean probes)"},
    "weight_stats": {"units": "1", "long_name": "weight norms and singular-value statistics of the checkpoint (wstat; measure/weights.py)"},
}


# Attributes of the layout's variables and coordinates (written once, at creation).
_INT = {"units": "1"}
LAYOUT_ATTRS: dict[str, dict[str, str]] = {
    "tokens": {"units": "token id", "long_name": "evaluation token ids"},
    "token_str": {"units": "1", "long_name": "each evaluation token decoded alone (for display)"},
    "prefix_tokens": {"units": "token id", "long_name": "head-score inputs: BOS + n random tokens repeated 4 times"},
    "probe_tokens": {"units": "token id", "long_name": "probe rows: prompt + continuation, right-padded with 0"},
    "prow_item": {**_INT, "long_name": "index (along item) of the row's probe item"},
    "prow_start": {**_INT, "long_name": "position where the row's continuation starts"},
    "prow_len": {"units": "tokens", "long_name": "length of the row (prompt + continuation)"},
    "prow_correct": {**_INT, "long_name": "the row's continuation is a correct one"},
    "run": {"long_name": "run id"},
    "step": {"units": "training steps", "long_name": "checkpoint step (union over runs)"},
    "seq": {**_INT, "long_name": "evaluation sequence"},
    "pos": {"units": "tokens", "long_name": "token position within a sequence"},
    "sample": {**_INT, "long_name": "kept next-token distribution (at sample_seq, sample_pos)"},
    "sample_seq": {**_INT, "long_name": "sequence of each kept distribution"},
    "sample_pos": {"units": "tokens", "long_name": "position of each kept distribution"},
    "k": {**_INT, "long_name": "entry of a kept distribution (dist_ids holds its token)"},
    "hsample": {**_INT, "long_name": "kept hidden-state sample (at hsample_seq, hsample_pos)"},
    "hsample_seq": {**_INT, "long_name": "sequence of each hidden-state sample"},
    "hsample_pos": {"units": "tokens", "long_name": "position of each hidden-state sample"},
    "hlayer": {**_INT, "long_name": "layer of kept hidden states (0: embeddings, l: after block l)"},
    "d": {**_INT, "long_name": "hidden dimension"},
    "layer_h": {**_INT, "long_name": "attention block (0..L-1)"},
    "head": {**_INT, "long_name": "attention head"},
    "kind": {"long_name": "head-score kind"},
    "pseq": {**_INT, "long_name": "head-score input sequence"},
    "ppos": {"units": "tokens", "long_name": "position in a head-score input sequence"},
    "probe": {"long_name": "behaviour probe"},
    "probe_scoring": {"long_name": "how the probe compares continuations: sum or mean log-prob"},
    "item": {"long_name": "probe item key <probe>/<item_id> (unique)"},
    "item_probe": {"long_name": "the item's probe"},
    "item_id": {"long_name": "the item's id within its probe (repeats across probes)"},
    "prow": {**_INT, "long_name": "probe row: an item's prompt + one continuation"},
    "ptok": {"units": "tokens", "long_name": "token position in a probe row"},
    "wstat": {"long_name": "weight statistic (measure/weights.py)"},
}


#: What a run factor's sentinel means (branches: docs/store.md); missing elsewhere is "".
_FACTOR_NOTES = {"branch_step": " (-1: a grid run, not a branch)", "parent": " ('': a grid run)"}


def factor_long_name(name: str) -> str:
    """``long_name`` of the run factor ``name`` (its coordinate is ``factor_<name>``)."""
    return f"run factor {name}{_FACTOR_NOTES.get(name, '')}"


def chunks_for(var: Var, dims: Dims) -> tuple[int, ...]:
    """1 x 1 on (run, step); logprob-like arrays split along seq to ~CHUNK_BYTES."""
    sizes = dims.as_dict()
    shape = [max(1, sizes[d]) for d in var.dims]
    if var.dims == ("seq", "pos"):
        per_seq = sizes["pos"] * np.dtype(var.dtype).itemsize
        shape[0] = max(1, min(sizes["seq"], CHUNK_BYTES // max(1, per_seq)))
    return (1, 1, *shape)


def shape_of(var: Var, dims: Dims) -> tuple[int, ...]:
    sizes = dims.as_dict()
    return tuple(sizes[d] for d in var.dims)


def padded(value: np.ndarray, var: Var, dims: Dims) -> np.ndarray:
    """``value`` cast to the variable's dtype and fill-padded to the store's shape.

    Smaller models (fewer layers or heads, narrower d, smaller vocabulary) leave
    the rest of the chunk at the fill value.
    """
    target = shape_of(var, dims)
    value = np.asarray(value)
    if value.shape == target:
        return value.astype(var.dtype, copy=False)
    if value.ndim != len(target) or any(a > b for a, b in zip(value.shape, target, strict=True)):
        raise ValueError(f"value of shape {value.shape} does not fit {var.dims} {target}")
    out = np.full(target, var.fill, dtype=var.dtype)
    out[tuple(slice(0, n) for n in value.shape)] = value
    return out
