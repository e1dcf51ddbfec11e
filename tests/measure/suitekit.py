"""Tiny suites built by hand for the measurement, store and executor tests.

Random GPT-NeoX models (2 layers, d_model 32, context 32), one per checkpoint,
saved with ``save_pretrained`` next to a word-level Markov tokenizer, plus a
``suite.json`` so ``load_suite(folder)`` works in subprocesses too.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

from pathdep.data.markov import tokenizer_for
from pathdep.suites import Checkpoint, Run, Suite

K = 10  # Markov states; the vocabulary is K + 1 (EOS)
CONTEXT = 32


def spec_dict(name: str = "tiny", **measure) -> dict:
    opts = dict(eval_sequences=8, dist_positions=16, hidden_positions=8, batch_size=4,
                head_examples=2, check_duplicates=False)
    opts.update(measure)
    return {
        "name": name,
        "data": {"generator": "markov-mixture", "k": K, "seq_len": 64, "n_docs": 10,
                 "n_eval_docs": 40},
        "model": {"n_layers": 2, "d_model": 32, "n_heads": 4, "context": CONTEXT},
        "train": {"steps": 100},
        "measure": opts,
    }


def tiny_config(vocab: int = K + 1, **kw) -> GPTNeoXConfig:
    base = dict(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=64, max_position_embeddings=64, bos_token_id=K, eos_token_id=K)
    base.update(kw)
    return GPTNeoXConfig(**base)


def save_checkpoint(folder: Path, seed: int, tok, *, step: int, config=None, sidecar=True) -> None:
    torch.manual_seed(seed)
    model = GPTNeoXForCausalLM(config or tiny_config())
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    if sidecar:
        (folder / "pathdep.json").write_text(json.dumps(
            {"step": step, "tokens_seen": step * 128, "train_loss": 2.0 + 1 / (1 + step)}))


def build_suite(root: Path, runs=("a", "b"), steps=(0, 10, 100), *, name="tiny",
                steps_of: dict | None = None, measure: dict | None = None) -> Suite:
    """A suite folder at ``root``; ``steps_of`` gives some runs other steps."""
    root = Path(root)
    tok = tokenizer_for(K)
    tok.save_pretrained(root / "tokenizer")
    suite_runs = []
    for i, rid in enumerate(runs):
        cks = []
        for s in (steps_of or {}).get(rid, steps):
            rel = f"runs/{rid}/checkpoints/step-{s:07d}"
            save_checkpoint(root / rel, 1000 * i + s, tok, step=s)
            cks.append(Checkpoint(step=s, path=rel))
        suite_runs.append(Run(id=rid, factors={"seed": i}, checkpoints=cks, tokenizer="tokenizer"))
    suite = Suite(name=name, runs=suite_runs, source="trained",
                  meta={"spec": spec_dict(name, **(measure or {}))})
    (root / "suite.json").write_text(suite.model_dump_json(indent=1))
    from pathdep.suites import load_suite

    return load_suite(root)
