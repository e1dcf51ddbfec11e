"""Train one run of a suite, saving checkpoints as it goes; resume where it stopped.

    runs/<id>/checkpoints/step-0000100/   config.json, model.safetensors, tokenizer,
                                          pathdep.json (step, tokens seen, factors,
                                          train loss, what was seen when)
    runs/<id>/state/                      optimizer, RNG and step of the newest
                                          checkpoint, for resuming
    runs/<id>/branch-states/step-0000300.pt   weights, optimizer, RNG and what was
                                          seen at a step where branches start

A branch (``RunPlan.parent``) starts from its parent's branch state: the same
weights, optimizer moments, RNG and data position (the batch of a step is a
function of the data-order seed and the step alone). When that state is
missing (the branch was added after the parent finished), the parent is
replayed deterministically up to the branch step, which gives the identical
state.

Determinism: the init seed fixes the weights and dropout, the data-order seed
the batches; on the CPU (``[train] device = "cpu"``, the default) the same spec
on the same machine gives bit-identical weights, and a resumed run ends exactly
where an uninterrupted one would. On a GPU (``device = "cuda"``, optionally
``dtype = "bfloat16"`` autocast) deterministic algorithms are requested
(``torch.use_deterministic_algorithms``, ``CUBLAS_WORKSPACE_CONFIG=:4096:8``), so
reruns on the same GPU model and software agree; kernels without a
deterministic version warn instead, and another GPU model gives other weights.
Checkpoints are float32 either way.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from pathdep import atomic, progress
from pathdep._hf import quiet
from pathdep.errors import PathdepError
from pathdep.models.build import build_model, load_saved
from pathdep.models.device import resolve_device, resolve_dtype
from pathdep.spec import LRIntervention
from pathdep.train.batches import DataOrder, Injector, SeenLog, TokenizedCorpus
from pathdep.train.grid import RunPlan

log = logging.getLogger(__name__)
SIDECAR = "pathdep.json"


def ckpt_dir(out: Path, run_id: str, step: int) -> Path:
    return Path(out) / "runs" / run_id / "checkpoints" / f"step-{step:07d}"


def lr_at(step: int, plan: RunPlan) -> float:
    """Linear warm-up to the peak, then cosine/linear decay to min_lr_ratio * peak.

    ``step`` is 0-based (update ``step + 1``); interventions with ``lr_scale``
    multiply the rate over their steps.
    """
    t = plan.train
    if t.warmup and step < t.warmup:
        lr = t.lr * (step + 1) / t.warmup
    elif t.schedule == "constant":
        lr = t.lr
    else:
        frac = (step - t.warmup) / max(1, t.steps - t.warmup)
        shape = 0.5 * (1 + math.cos(math.pi * frac)) if t.schedule == "cosine" else 1 - frac
        lr = t.lr * (t.min_lr_ratio + (1 - t.min_lr_ratio) * shape)
    for iv in plan.interventions:
        if isinstance(iv, LRIntervention) and iv.start <= step + 1 <= iv.end \
                and (step + 1 - iv.start) % iv.every == 0:
            lr *= iv.lr_scale
    return lr


def _optimizer(model, plan: RunPlan, state: dict | None = None):
    """AdamW with weight decay on matrices only; ``state`` restores its moments.

    Restoring keeps this plan's hyperparameters (a branch may change them),
    not the ones saved with the moments.
    """
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": plan.train.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    betas = (plan.train.beta1, plan.train.beta2)
    opt = torch.optim.AdamW(groups, lr=plan.train.lr, betas=betas)
    if state is not None:
        opt.load_state_dict(state)
        for g, wd in zip(opt.param_groups, (plan.train.weight_decay, 0.0), strict=True):
            g["weight_decay"], g["betas"] = wd, betas
    return opt


def _save_checkpoint(out, plan, model, opt, step, tokens, loss, seen: SeenLog):
    meta = {"run": plan.id, "step": step, "tokens_seen": tokens, "train_loss": loss,
            "factors": plan.factors, "seen": seen.to_dict()}
    with atomic.atomic_dir(ckpt_dir(out, plan.id, step)) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        for f in (Path(out) / "tokenizer").iterdir():  # the suite's tokenizer, copied as is
            shutil.copyfile(f, tmp / f.name)
        atomic.write_json(tmp / SIDECAR, meta)
    with atomic.atomic_dir(Path(out) / "runs" / plan.id / "state") as tmp:
        torch.save({"optimizer": opt.state_dict(), "rng": torch.get_rng_state(), "step": step,
                    "seen": seen.to_dict(), **_cuda_rng()}, tmp / "state.pt")


def _cuda_rng() -> dict:
    return {"cuda_rng": torch.cuda.get_rng_state_all()} if torch.cuda.is_initialized() else {}


def _set_rng(state: dict) -> None:
    torch.set_rng_state(state["rng"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])


def device_of(plan: RunPlan):
    """(torch.device, autocast dtype or None) of ``[train] device`` and ``dtype``."""
    dev = resolve_device(plan.train.device)
    dtype = resolve_dtype(plan.train.dtype, dev)
    if dtype is torch.float16:  # not offered: float16 training needs loss scaling
        raise PathdepError("train.dtype float16 is not supported; use bfloat16 or float32")
    return dev, (dtype if dtype is not torch.float32 else None)


def _state_file(out: Path, run_id: str) -> Path:
    return Path(out) / "runs" / run_id / "state" / "state.pt"


def branch_state_file(out: Path, run_id: str, step: int) -> Path:
    return Path(out) / "runs" / run_id / "branch-states" / f"step-{step:07d}.pt"


def _save_branch_state(out: Path, plan: RunPlan, model, opt, step: int, seen: SeenLog) -> None:
    path = branch_state_file(out, plan.id, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                "rng": torch.get_rng_state(), "step": step, "seen": seen.to_dict(),
                **_cuda_rng()}, tmp)
    tmp.replace(path)


def _initial(out: Path, plan: RunPlan, tok, plans: dict[str, RunPlan] | None):
    """(model, optimizer, step, seen) where ``plan`` begins: its init, or its parent's branch state."""
    dev, _ = device_of(plan)
    if plan.parent is None:
        torch.manual_seed(plan.seed)
        model = build_model(plan.model, tok).to(dev)
        return model, _optimizer(model, plan), 0, SeenLog()
    if not plans or plan.parent not in plans:
        raise PathdepError(f"run {plan.id} branches from {plan.parent!r}, which is not in this suite")
    path = branch_state_file(out, plan.parent, plan.branch_step)
    if not path.is_file():
        _replay(out, plans[plan.parent], [plan.branch_step], tok, plans)
    state = torch.load(path, weights_only=False, map_location="cpu")
    torch.manual_seed(plan.seed)
    model = build_model(plan.model, tok)
    model.load_state_dict(state["model"])
    model.to(dev)
    _set_rng(state)
    return model, _optimizer(model, plan, state["optimizer"]), plan.branch_step, SeenLog(state["seen"])


def _replay(out: Path, plan: RunPlan, steps: list[int], tok, plans) -> None:
    """Retrain ``plan`` from its beginning to max(steps), saving branch states, no checkpoints.

    Training is deterministic, so the states equal those an uninterrupted run saves.
    """
    log.info("run %s: replaying to step %d for its branches", plan.id, max(steps))
    replay = dataclasses.replace(plan, branch_states=sorted(set(steps)), end=max(steps))
    _train(out, replay, tok, plans, checkpoints=False)


def _start(out: Path, plan: RunPlan, tok, plans=None):
    """(model, optimizer, step, seen): fresh (init or branch point), or resumed from disk.

    Resuming loads the newest checkpoint through ``from_pretrained`` (which maps
    saved names such as ``embed_out`` back), then the optimizer and RNG state.
    """
    state_file = _state_file(out, plan.id)
    if not state_file.is_file():
        return _initial(out, plan, tok, plans)
    state = torch.load(state_file, weights_only=False, map_location="cpu")
    step = state["step"]
    model = load_saved(ckpt_dir(out, plan.id, step)).to(device_of(plan)[0])
    opt = _optimizer(model, plan, state["optimizer"])
    _set_rng(state)
    log.info("run %s: resuming from step %d", plan.id, step)
    return model, opt, step, SeenLog(state["seen"])


def _injections(out: Path, tok) -> dict:
    items = json.loads((Path(out) / "data" / "injected.json").read_text())
    return {name: [(i, np.array(tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id],
                                dtype=np.int32)) for i, t in lst] for name, lst in items.items()}


def load_corpus(out: Path) -> TokenizedCorpus:
    z = np.load(Path(out) / "data" / "train.npz")
    tracked = json.loads((Path(out) / "data" / "tracked.json").read_text())
    return TokenizedCorpus(z["ids"], z["offsets"], {int(k): v for k, v in tracked.items()})


def train_run(out: Path, plan: RunPlan, plans: dict[str, RunPlan] | None = None) -> dict:
    """Train (or finish) one run; return a summary (final loss, tokens/s, resumed from).

    ``plans`` (run id -> plan) is needed for branches, to find their parents.
    """
    from transformers import AutoTokenizer

    quiet()
    out = Path(out)
    if plan.train.threads:
        torch.set_num_threads(plan.train.threads)
    if device_of(plan)[0].type == "cuda":  # cuBLAS is deterministic only with this set
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    tok = AutoTokenizer.from_pretrained(out / "tokenizer")
    return _train(out, plan, tok, plans, checkpoints=True)


def _train(out: Path, plan: RunPlan, tok, plans, *, checkpoints: bool) -> dict:
    order = DataOrder(load_corpus(out), plan.data_seed, plan.model.context, plan.train.batch_size,
                      plan.train.packing)
    injector = Injector([i for i in plan.interventions if i.injects], _injections(out, tok))
    save_at = set(plan.checkpoint_steps()) if checkpoints else set()
    states_at = {k for k in plan.branch_states
                 if not branch_state_file(out, plan.id, k).is_file()}
    last = plan.last_step
    if checkpoints:
        model, opt, start, seen = _start(out, plan, tok, plans)
    else:
        model, opt, start, seen = _initial(out, plan, tok, plans)
    tokens_per_step = plan.train.batch_size * plan.model.context
    if start in save_at and not (ckpt_dir(out, plan.id, start) / SIDECAR).is_file():
        _save_checkpoint(out, plan, model, opt, start, start * tokens_per_step, None, seen)
    if start in states_at:
        _save_branch_state(out, plan, model, opt, start, seen)
    model.train()
    dev, autocast = device_of(plan)
    losses, t0 = [], time.perf_counter()
    label = f"train {plan.id}" if checkpoints else f"replay {plan.id}"
    with progress.bar(label, total=last, info="") as bar:
        bar.advance(start)
        for step in range(start + 1, last + 1):
            batch, docs = order.batch(step - 1)
            seen.add(step, injector.apply(step, batch))
            seen.add(step, (i for d in docs for i in order.c.tracked.get(d, ())))
            for g in opt.param_groups:
                g["lr"] = lr_at(step - 1, plan)
            batch = batch.to(dev, non_blocking=True)
            with torch.autocast(dev.type, dtype=autocast, enabled=autocast is not None):
                loss = model(input_ids=batch, labels=batch).loss
            loss.backward()
            if plan.train.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), plan.train.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
            if step in states_at:
                _save_branch_state(out, plan, model, opt, step, seen)
            if step in save_at:
                _save_checkpoint(out, plan, model, opt, step, step * tokens_per_step,
                                 float(np.mean(losses)), seen)
                losses = []
            rate = (step - start) * tokens_per_step / (time.perf_counter() - t0)
            bar.advance(1, info=f"loss {loss.item():.3f}  {rate:,.0f} tok/s")
    elapsed = time.perf_counter() - t0
    done = last - start
    return {"run": plan.id, "resumed_from": start, "steps": done,
            "tokens_per_s": done * tokens_per_step / elapsed if done else None}
