"""Train one run of a suite, saving checkpoints as it goes; resume where it stopped.

    runs/<id>/checkpoints/step-0000100/   config.json, model.safetensors, tokenizer,
                                          pathdep.json (step, tokens seen, factors,
                                          train loss, what was seen when)
    runs/<id>/state/                      optimizer, RNG and step of the newest
                                          checkpoint, for resuming

Determinism: the init seed fixes the weights and dropout, the data-order seed
the batches; the same spec on the same machine gives bit-identical weights,
and a resumed run ends exactly where an uninterrupted one would.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from pathdep import atomic, progress
from pathdep.train.batches import DataOrder, Injector, SeenLog, TokenizedCorpus
from pathdep.train.grid import RunPlan
from pathdep.train.model import build_model
from pathdep.train.schedule import checkpoint_steps

log = logging.getLogger(__name__)
SIDECAR = "pathdep.json"


def ckpt_dir(out: Path, run_id: str, step: int) -> Path:
    return Path(out) / "runs" / run_id / "checkpoints" / f"step-{step:07d}"


def lr_at(step: int, plan: RunPlan) -> float:
    """Linear warm-up to the peak, then cosine/linear decay to min_lr_ratio * peak."""
    t = plan.train
    if t.warmup and step < t.warmup:
        return t.lr * (step + 1) / t.warmup
    if t.schedule == "constant":
        return t.lr
    frac = (step - t.warmup) / max(1, t.steps - t.warmup)
    shape = 0.5 * (1 + math.cos(math.pi * frac)) if t.schedule == "cosine" else 1 - frac
    return t.lr * (t.min_lr_ratio + (1 - t.min_lr_ratio) * shape)


def _optimizer(model, plan: RunPlan):
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": plan.train.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=plan.train.lr, betas=(plan.train.beta1, plan.train.beta2))


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
                    "seen": seen.to_dict()}, tmp / "state.pt")


def _state_file(out: Path, run_id: str) -> Path:
    return Path(out) / "runs" / run_id / "state" / "state.pt"


def _start(out: Path, plan: RunPlan, tok):
    """(model, optimizer, step, seen): fresh from the init seed, or resumed from disk.

    Resuming loads the newest checkpoint through ``from_pretrained`` (which maps
    saved names such as ``embed_out`` back), then the optimizer and RNG state.
    """
    from transformers import GPTNeoXForCausalLM

    state_file = _state_file(out, plan.id)
    if not state_file.is_file():
        torch.manual_seed(plan.seed)
        model = build_model(plan.model, tok)
        return model, _optimizer(model, plan), 0, SeenLog()
    state = torch.load(state_file, weights_only=False)
    step = state["step"]
    model = GPTNeoXForCausalLM.from_pretrained(ckpt_dir(out, plan.id, step), dtype=torch.float32)
    opt = _optimizer(model, plan)
    opt.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
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


def train_run(out: Path, plan: RunPlan) -> dict:
    """Train (or finish) one run; return a summary (final loss, tokens/s, resumed from)."""
    from transformers import AutoTokenizer

    from pathdep._hf import quiet

    quiet()
    out = Path(out)
    if plan.train.threads:
        torch.set_num_threads(plan.train.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    tok = AutoTokenizer.from_pretrained(out / "tokenizer")
    order = DataOrder(load_corpus(out), plan.data_seed, plan.model.context, plan.train.batch_size)
    injector = Injector(plan.interventions, _injections(out, tok))
    save_at = set(checkpoint_steps(plan.train.checkpoints, plan.train.steps))
    model, opt, start, seen = _start(out, plan, tok)
    tokens_per_step = plan.train.batch_size * plan.model.context
    if start == 0 and 0 in save_at:
        _save_checkpoint(out, plan, model, opt, 0, 0, None, seen)
    model.train()
    losses, t0 = [], time.perf_counter()
    with progress.bar(f"train {plan.id}", total=plan.train.steps, info="") as bar:
        bar.advance(start)
        for step in range(start + 1, plan.train.steps + 1):
            batch, docs = order.batch(step - 1)
            seen.add(step, injector.apply(step, batch))
            seen.add(step, (i for d in docs for i in order.c.tracked.get(d, ())))
            for g in opt.param_groups:
                g["lr"] = lr_at(step - 1, plan)
            loss = model(input_ids=batch, labels=batch).loss
            loss.backward()
            if plan.train.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), plan.train.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
            if step in save_at:
                _save_checkpoint(out, plan, model, opt, step, step * tokens_per_step,
                                 float(np.mean(losses)), seen)
                losses = []
            rate = (step - start) * tokens_per_step / (time.perf_counter() - t0)
            bar.advance(1, info=f"loss {loss.item():.3f}  {rate:,.0f} tok/s")
    elapsed = time.perf_counter() - t0
    done = plan.train.steps - start
    return {"run": plan.id, "resumed_from": start, "steps": done,
            "tokens_per_s": done * tokens_per_step / elapsed if done else None}
