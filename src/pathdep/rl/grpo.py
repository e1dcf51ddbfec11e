"""Policy-gradient fine-tuning with group baselines (GRPO-style REINFORCE), one RL seed at a time.

    traj = train_seed(model, tok, task, RLSpec(steps=100), seed=0)
    traj = run_seed(ckpt_folder, task, cfg, 0, suite_dir / "rl" / "seed0-data0@1200" / "seed0")

Each step draws ``prompts_per_step`` training prompts, samples ``group``
answers to each (temperature ``temperature``, at most ``max_new_tokens``,
with a KV cache), scores them with the task's correctness reward and takes
one Adam step on

    loss = -mean_i( adv_i * sum_t log pi(y_it | x_i, y_i<t) ),
    adv_i = (r_i - mean_group(r)) / (std_group(r) + eps)   (or without the division),

REINFORCE (Williams 1992, "Simple statistical gradient-following algorithms
for connectionist reinforcement learning", Machine Learning 8) with the
group-mean baseline of GRPO (Shao et al. 2024, "DeepSeekMath", arXiv
2402.03300, §4.1; outcome supervision, no KL penalty, one update per batch
so the clipped ratio is 1). The sampled answer is cut after the token that
ends its first word (the reward reads only that word), so later tokens are
neither rewarded nor trained.

Every ``eval_every`` steps (and at steps 0 and the last) the form share is
measured by teacher forcing, share_A = mean over prompts of pA / (pA + pB)
with pA, pB the total probabilities of " " + form A / B after the prompt, on
held-out and training prompts; and one answer is sampled per held-out prompt
for the held-out reward and the share of form A among correct answers.

One seed is reproducible: prompts come from ``random.Random`` and samples
from a ``torch.Generator``, both seeded with the RL seed. ``[rl] device`` and
``dtype`` place the model as ``[train]``'s do (models/device.py; default cpu and
float32, bit-identical reruns); the sampling generator stays on the CPU
(models/sampler.py draws there), so a GPU changes the numbers only by its
arithmetic.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import re
import time
from pathlib import Path

import numpy as np
import torch

from pathdep import atomic, progress
from pathdep.errors import PathdepError
from pathdep.models.device import resolve_device, resolve_dtype
from pathdep.models.load import load_folder
from pathdep.models.sampler import left_pad, model_device, positions, sample_padded
from pathdep.rl.task import FormItem, FormTask
from pathdep.spec import RLSpec

log = logging.getLogger(__name__)
DONE = "done.json"
MAX_EVAL = 256  # prompts per evaluation set (evenly spaced when there are more)
GRAD_CLIP = 1.0
_WORD_END = re.compile(r"[\s.,!?;:]")


def _bos(tok) -> int:
    return tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id


def encode(tok, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


def sample(model, tok, prompts: list[list[int]], *, max_new_tokens: int, temperature: float,
           generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sample continuations of (left-padded) prompts with a KV cache (models.sampler).

    Returns (ids, mask, gen): the prompt + generated ids, their attention mask
    (generated tokens after EOS are masked), and the generated part alone.
    """
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    return sample_padded(model, prompts, pad_id=pad, eos_id=tok.eos_token_id,
                         max_new_tokens=max_new_tokens, temperature=temperature,
                         generator=generator)


def answer_lengths(tok, gen: torch.Tensor) -> tuple[list[int], list[str]]:
    """Per sample: how many generated tokens form the answer, and its text.

    The answer ends with the token that completes its first word (a space or
    end punctuation after it), or at the end-of-text token (excluded).
    """
    eos = tok.eos_token_id
    lengths, texts = [], []
    for row in gen.tolist():
        n = len(row)
        for k, t in enumerate(row):
            if t == eos:
                n = k
                break
            s = tok.decode(row[:k + 1]).lstrip()
            if s and _WORD_END.search(s):
                n = k + 1
                break
        lengths.append(n)
        texts.append(tok.decode(row[:n]))
    return lengths, texts


def token_logprobs(model, ids: torch.Tensor, mask: torch.Tensor,
                   temperature: float = 1.0) -> torch.Tensor:
    """log p(ids[:, t] | ids[:, <t]) for t >= 1: shape (batch, len - 1)."""
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions(mask)).logits
    lp = torch.log_softmax(logits[:, :-1].float() / temperature, -1)
    return lp.gather(-1, ids[:, 1:, None]).squeeze(-1)


def advantages(rewards: torch.Tensor, group: int, normalize: bool = True,
               eps: float = 1e-6) -> torch.Tensor:
    """r - group mean (divided by the group's std when ``normalize``), groups consecutive."""
    r = rewards.view(-1, group)
    adv = r - r.mean(1, keepdim=True)
    if normalize:
        adv = adv / (r.std(1, keepdim=True, unbiased=False) + eps)
    return adv.view(-1)


@torch.no_grad()
def form_logprobs(model, tok, items: list[FormItem], batch_size: int = 64) -> np.ndarray:
    """(n_items, 2): total log-probability of " " + form A and " " + form B after each prompt."""
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    rows, spans = [], []
    for it in items:
        p = [_bos(tok)] + encode(tok, it.prompt)
        for form in (it.a, it.b):
            c = encode(tok, " " + form)
            rows.append(p + c)
            spans.append(len(c))
    out = np.zeros(len(rows))
    for s in range(0, len(rows), batch_size):
        chunk = rows[s:s + batch_size]
        ids, mask = (t.to(model_device(model)) for t in left_pad(chunk, pad))
        lp = token_logprobs(model, ids, mask)
        n = ids.shape[1]
        for j, length in enumerate(spans[s:s + batch_size]):
            # in the left-padded row the continuation occupies the last `length` positions
            out[s + j] = lp[j, n - 1 - length:].sum().item()
    return out.reshape(-1, 2)


def form_share(model, tok, items: list[FormItem], batch_size: int = 64) -> float:
    """mean over prompts of pA / (pA + pB) (teacher-forced); nan without items."""
    if not items:
        return float("nan")
    lp = form_logprobs(model, tok, items, batch_size)
    return float(np.mean(1.0 / (1.0 + np.exp(lp[:, 1] - lp[:, 0]))))


def eval_subset(items: list[FormItem], n: int = MAX_EVAL) -> list[FormItem]:
    return items if len(items) <= n else items[::math.ceil(len(items) / n)]


def _sampled_forms(model, tok, task: FormTask, items, cfg: RLSpec, gen) -> dict:
    if not items:
        return {"heldout_reward": None, "correct_share_A": None, "n_correct": 0}
    prompts = [[_bos(tok)] + encode(tok, it.prompt) for it in items]
    _, _, g = sample(model, tok, prompts, max_new_tokens=cfg.max_new_tokens,
                     temperature=cfg.temperature, generator=gen)
    _, texts = answer_lengths(tok, g)
    forms = [task.form(it, t) for it, t in zip(items, texts, strict=True)]
    n_a, n_b = forms.count("A"), forms.count("B")
    return {"heldout_reward": (n_a + n_b) / len(items),
            "correct_share_A": n_a / (n_a + n_b) if n_a + n_b else None, "n_correct": n_a + n_b}


def evaluate(model, tok, task: FormTask, cfg: RLSpec, gen: torch.Generator) -> dict:
    """Form shares (teacher-forced) on held-out and training prompts, and sampled forms."""
    model.eval()
    held = eval_subset(task.heldout)
    return {"share_heldout": form_share(model, tok, held) if held else None,
            "share_train": form_share(model, tok, eval_subset(task.train)),
            **_sampled_forms(model, tok, task, held or eval_subset(task.train), cfg, gen)}


def grpo_step(model, opt, tok, task: FormTask, items: list[FormItem], cfg: RLSpec,
              gen: torch.Generator, normalize: bool = True, amp=contextlib.nullcontext) -> dict:
    """One policy-gradient step on ``items`` (``cfg.group`` samples each); returns its stats.

    ``amp``: the autocast context of the forward passes (rl_device); backward runs outside.
    """
    model.eval()  # no dropout: the sampled and the trained policy are the same
    rows = [[_bos(tok)] + encode(tok, it.prompt) for it in items for _ in range(cfg.group)]
    with amp():
        ids, mask, g = sample(model, tok, rows, max_new_tokens=cfg.max_new_tokens,
                              temperature=cfg.temperature, generator=gen)
    lengths, texts = answer_lengths(tok, g)
    expanded = [it for it in items for _ in range(cfg.group)]
    r = torch.tensor([task.reward(it, t) for it, t in zip(expanded, texts, strict=True)],
                     device=ids.device)
    adv = advantages(r, cfg.group, normalize)
    p = ids.shape[1] - g.shape[1]
    keep = torch.zeros_like(g, dtype=torch.float32)
    for i, n in enumerate(lengths):
        keep[i, :n] = 1
    with amp():
        lp = token_logprobs(model, ids, mask, cfg.temperature)[:, p - 1:]
    loss = -(adv * (lp * keep).sum(1)).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
    opt.step()
    forms = [task.form(it, t) for it, t in zip(expanded, texts, strict=True)]
    n_a, n_b = forms.count("A"), forms.count("B")
    return {"reward": float(r.mean()), "loss": float(loss.detach()),
            "sample_share_A": n_a / (n_a + n_b) if n_a + n_b else None}


def rl_device(cfg: RLSpec):
    """(torch.device, autocast context factory) of ``[rl] device`` and ``dtype``; a device
    or dtype that is not there is a PathdepError naming the fix (models/device.py)."""
    dev = resolve_device(cfg.device)
    dtype = resolve_dtype(cfg.dtype, dev)
    if dtype is torch.float32:
        return dev, contextlib.nullcontext
    return dev, lambda: torch.autocast(dev.type, dtype=dtype)


def check_lengths(tok, task: FormTask, cfg: RLSpec) -> None:
    """Refuse a ``max_new_tokens`` too short to write some answer form in full."""
    longest = max(len(encode(tok, " " + f)) for it in [*task.train, *task.heldout]
                  for f in (it.a, it.b))
    if longest > cfg.max_new_tokens:
        raise PathdepError(
            f"[rl] max_new_tokens = {cfg.max_new_tokens} is too short: the longest answer form "
            f"of task {task.name!r} takes {longest} tokens, so it could never be sampled whole; "
            f"set max_new_tokens to at least {longest}")


def train_seed(model, tok, task: FormTask, cfg: RLSpec, seed: int, *,
               normalize: bool = True) -> dict:
    """Fine-tune ``model`` in place for ``cfg.steps`` steps with RL seed ``seed``; the trajectory.

    The trajectory has per-step ``reward`` (training batches) and ``evals``
    (step 0, every ``eval_every`` steps and the last): shares on held-out and
    training prompts, held-out reward, share of form A among correct samples.
    """
    check_lengths(tok, task, cfg)
    dev, amp = rl_device(cfg)
    model.to(dev)
    rng = random.Random(f"pathdep.rl:{seed}")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    k = min(cfg.prompts_per_step, len(task.train))
    with amp():
        evals = [{"step": 0, **evaluate(model, tok, task, cfg, gen)}]
    rewards, shares = [], []
    t0 = time.perf_counter()
    with progress.bar(f"rl seed {seed}", total=cfg.steps, info="") as bar:
        for step in range(1, cfg.steps + 1):
            items = rng.sample(task.train, k)
            st = grpo_step(model, opt, tok, task, items, cfg, gen, normalize, amp)
            rewards.append(st["reward"])
            shares.append(st["sample_share_A"])
            if step % cfg.eval_every == 0 or step == cfg.steps:
                with amp():
                    ev = {"step": step, "reward": float(np.mean(rewards[-cfg.eval_every:])),
                          **evaluate(model, tok, task, cfg, gen)}
                evals.append(ev)
                log.debug("rl seed %d step %d: reward %.3f, share A held-out %s, train %.3f",
                         seed, step, ev["reward"], _f(ev["share_heldout"]), ev["share_train"])
            bar.advance(1, info=f"reward {st['reward']:.2f}")
    return {"seed": seed, "task": task.name, "steps": cfg.steps, "n_train": len(task.train),
            "n_heldout": len(task.heldout), "reward": rewards, "sample_share_A": shares,
            "evals": evals, "seconds": time.perf_counter() - t0}


def _f(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def config_key(cfg: RLSpec, task: FormTask, base: str) -> dict:
    """What determines one seed's result besides the seed (a finished seed is reused if equal)."""
    return {"rl": cfg.model_dump(mode="json", exclude={"seeds"}), "task": task.name,
            "n_train": len(task.train), "n_heldout": len(task.heldout), "base": str(base)}


def run_seed(base: str | Path, task: FormTask, cfg: RLSpec, seed: int, folder: str | Path, *,
             normalize: bool = True) -> dict:
    """Fine-tune the checkpoint folder ``base`` with RL seed ``seed`` into ``folder``; reuse it.

    ``folder`` gets trajectory.json, the final model (``model/``, with the
    tokenizer) and ``done.json``, all written at once (an interrupted seed
    leaves nothing and restarts). A finished seed with the same settings is
    read back instead of retrained.
    """
    folder = Path(folder)
    # the base as a path from the seed's folder, so a suite folder moved or copied whole
    # keeps its finished seeds; seeds keyed by the absolute path (before) still match
    key = config_key(cfg, task, os.path.relpath(Path(base).resolve(), folder.resolve()))
    if (folder / DONE).is_file():
        traj = json.loads((folder / "trajectory.json").read_text())
        if traj.get("config") in (key, config_key(cfg, task, str(base))):
            log.info("rl seed %d: finished earlier in %s", seed, folder)
            return traj
        log.warning("rl seed %d in %s was run with other settings; running it again", seed, folder)
    atomic.clean_stale(folder.parent)
    if not (Path(base) / "config.json").is_file():
        raise PathdepError(f"base checkpoint {base} has no config.json; train the suite first "
                           "(pathdep train) or choose another [rl] base/step")
    model, tok = load_folder(base)
    traj = train_seed(model, tok, task, cfg, seed, normalize=normalize) | {"config": key}
    with atomic.atomic_dir(folder) as tmp:
        model.save_pretrained(tmp / "model", safe_serialization=True)
        tok.save_pretrained(tmp / "model")
        atomic.write_json(tmp / "trajectory.json", traj)
        atomic.write_json(tmp / DONE, {"seed": seed, "steps": cfg.steps})  # last
    return traj
