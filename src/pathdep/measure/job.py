"""One measurement job: a (run, checkpoint) measured and written into the store.

``run_job`` is a picklable top-level function, so any executor can run it.
It takes the job's lock, skips the job if it is already done, loads the
checkpoint (the only model in memory), runs the main pass and the head-score
pass, frees the model and writes everything, ``done`` last (store/jobs.py).
"""

from __future__ import annotations

import gc
import json
import logging
import resource
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pathdep.errors import PathdepError
from pathdep.measure.forward import Samples, main_pass
from pathdep.measure.heads import PrevToken, head_scores
from pathdep.measure.stream import delete_cached
from pathdep.measure.weights import weight_vector
from pathdep.models import arch
from pathdep.models.device import auto_batch_size
from pathdep.models.load import load_error, load_model
from pathdep.probes import score_probes
from pathdep.store import is_done, job_lock, read_inputs, read_probe_inputs, write_job
from pathdep.suites.model import Checkpoint, Run

log = logging.getLogger(__name__)
SIDECAR = "pathdep.json"


@dataclass
class MeasureJob:
    """Everything a worker needs: the store holds the rest (tokens, samples, dims)."""

    store: str
    run: Run
    step: int
    batch_size: int = 16
    allow_pickle: bool = False
    wait: bool = False  # block on another process's lock instead of reporting "busy"
    device: str = "cpu"  # resolved by the caller (models/device.py): cpu, cuda:N, mps
    dtype: str = "float32"  # the model's weights; log-softmax stays float32
    auto_batch: bool = False  # on a GPU, size the batch from free memory (batch_size = floor)
    fetch: bool = False  # a hub checkpoint not cached when planned: this call downloads it
    keep_cache: bool = True  # else a fetched checkpoint is deleted from the cache once stored


@dataclass
class JobOutcome:
    run: str
    step: int
    status: str  # "done" (measured now), "skipped" (already stored), "busy" (locked elsewhere)
    tokens: int = 0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0


def run_job(job: MeasureJob) -> JobOutcome:
    """Measure one checkpoint into the store (idempotent; see the module docstring)."""
    t0 = time.perf_counter()
    store = Path(job.store)
    with job_lock(store, job.run.id, job.step, wait=job.wait) as got:
        if not got:
            return JobOutcome(job.run.id, job.step, "busy")
        inputs = read_inputs(store)
        ri, si = inputs["runs"].index(job.run.id), inputs["steps"].index(job.step)
        if is_done(store, ri, si):
            return JobOutcome(job.run.id, job.step, "skipped")
        try:
            values = measure_checkpoint(job, inputs)
            write_job(store, ri, si, values, inputs["dims"], inputs["logprob_dtype"])
        finally:  # stored or failed: the download is not kept (measure/stream.py)
            if job.fetch and not job.keep_cache:
                delete_cached(job.run.checkpoint(job.step))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = int(inputs["tokens"].size)
    return JobOutcome(job.run.id, job.step, "done", n, time.perf_counter() - t0, rss)


def _check_fits(model, inputs: dict, where: str) -> None:
    cfg, dims = model.config, inputs["dims"]
    if int(inputs["tokens"].max()) >= cfg.vocab_size:
        raise PathdepError(
            f"{where}: the evaluation tokens go up to id {int(inputs['tokens'].max())} but the "
            f"model's vocabulary has {cfg.vocab_size} entries; it was trained with another tokenizer"
        )
    if (cfg.num_hidden_layers > dims.layer_h or cfg.num_attention_heads > dims.head
            or cfg.hidden_size > dims.d):
        raise PathdepError(
            f"{where}: the model ({cfg.num_hidden_layers} layers, {cfg.num_attention_heads} "
            f"heads, width {cfg.hidden_size}) is larger than the store was laid out for "
            f"({dims.layer_h}, {dims.head}, {dims.d}); measure into a new --out"
        )


def measure_checkpoint(job: MeasureJob, inputs: dict) -> dict[str, np.ndarray]:
    """All per-job values (store/schema.py job_vars) for one checkpoint."""
    ckpt = job.run.checkpoint(job.step)
    tokens, dims = inputs["tokens"], inputs["dims"]
    samples = Samples(inputs["sample_seq"], inputs["sample_pos"], inputs["hsample_seq"],
                      inputs["hsample_pos"], inputs["hlayers"],
                      None if inputs["attrs"].get("dist_full") else dims.k)
    model = _load(job, ckpt)
    alive = weakref.ref(model)
    try:
        _check_fits(model, inputs, f"run {job.run.id} step {job.step} ({ckpt.location})")
        batch = job.batch_size
        if job.auto_batch:
            batch = auto_batch_size(model, tokens.shape[1], model.device, given=batch)
        prefix = inputs["prefix_tokens"]
        prev = PrevToken.for_pass(model, min(prefix.shape[0], len(tokens)), tokens.shape[1],
                                  batch)  # the previous-token patterns, from the main pass
        res = main_pass(model, tokens, samples, batch_size=batch,
                        label=f"{job.run.id}@{job.step}", prev=prev)
        heads = head_scores(model, tokens[: prefix.shape[0]], prefix,
                            prev.scores() if prev is not None and prev.ok else None)
        behavior = _behavior(job, model, batch) if dims.probe else {}
        weights = {"weight_stats": weight_vector(model)} if dims.wstat else {}
    finally:  # free the model now: reference counting usually does it, and a full
        del model  # gc.collect() (~0.3 s with torch loaded) runs only if something holds it
        if alive() is not None:
            gc.collect()
    early, late = int(inputs["attrs"]["icl_early_pos"]), int(inputs["attrs"]["icl_late_pos"])
    train_loss, tokens_seen = _sidecar(ckpt)
    return {
        "logprob": res.logprob, "entropy": res.entropy,
        "dist_logp": res.dist_logp, "dist_ids": res.dist_ids, "dist_rest": res.dist_rest,
        "head_score": heads, "hidden": res.hidden,
        "icl_score": np.float32(icl_score(res.logprob, early, late)),
        "loss": np.float32(-np.mean(res.logprob[:, 1:].sum(axis=1, dtype=np.float64))
                           / (res.logprob.shape[1] - 1)),
        "train_loss": np.float32(train_loss), "tokens_seen": np.int64(tokens_seen),
    } | behavior | weights


def _behavior(job: MeasureJob, model, batch: int) -> dict[str, np.ndarray]:
    """The behaviour probes of the store scored with the loaded model (pathdep.probes)."""
    sc = score_probes(model, read_probe_inputs(Path(job.store)), batch_size=batch)
    return {"behavior": sc.accuracy, "behavior_margin": sc.margin,
            "probe_item_correct": sc.item_correct, "probe_item_margin": sc.item_margin}


def _load(job: MeasureJob, ckpt: Checkpoint):
    """The checkpoint's model; any load failure is this job's PathdepError, with the reason."""
    import torch

    try:
        model = load_model(job.run, ckpt, allow_pickle=job.allow_pickle,
                           dtype=getattr(torch, job.dtype))
        arch.fused_activations(model)  # GPT-2's GELU in one kernel, the same formula
        return model.to(torch.device(job.device))
    except PathdepError:
        raise
    except Exception as e:  # load_model names its own; anything else is named here
        raise load_error(ckpt, e, job.allow_pickle) from e


def icl_score(logprob: np.ndarray, early: int, late: int) -> float:
    """Mean loss at position ``late`` minus at ``early`` (Olsson et al. 2022; methods.md §1).

    Negative when later tokens are predicted better, i.e. when the model learns in context.
    """
    return float(np.mean(-logprob[:, late], dtype=np.float64)
                 - np.mean(-logprob[:, early], dtype=np.float64))


def _sidecar(ckpt: Checkpoint) -> tuple[float, int]:
    """(train_loss, tokens_seen) from the suite and the checkpoint's pathdep.json; NaN / -1."""
    meta = {}
    if ckpt.path and (Path(ckpt.path) / SIDECAR).is_file():
        try:
            meta = json.loads((Path(ckpt.path) / SIDECAR).read_text())
        except (OSError, json.JSONDecodeError) as e:
            log.warning("cannot read %s/%s: %s", ckpt.path, SIDECAR, e)
    tokens = ckpt.tokens_seen if ckpt.tokens_seen is not None else meta.get("tokens_seen")
    loss = meta.get("train_loss")
    return (float(loss) if loss is not None else float("nan"),
            int(tokens) if tokens is not None else -1)
