"""Measurement throughput: pathdep vs a bare forward pass vs a naive loop, same checkpoints.

    python benchmarks/measure_throughput.py                  # defaults below
    python benchmarks/measure_throughput.py --checkpoints 12 --seqs 256

Builds a suite of random GPT-NeoX checkpoints (a Markov-mixture spec, so the
evaluation set is the generator's held-out split), then, checkpoint by
checkpoint, times:

- bare:    ``model(input_ids)`` over the evaluation batches (model preloaded);
- pathdep: the whole measurement job (``run_job``: load the checkpoint,
  log-probs, entropies, distributions, hidden states, head scores, ICL score,
  write to the store) and, separately, its main pass alone (model preloaded);
- naive:   one sequence at a time, ``model(x, labels=x).loss`` plus a
  separate log-softmax pass for the per-token log-probs (model preloaded).

Each method runs ``--repeat`` times per checkpoint, interleaved, and the
fastest run counts (the machine is shared). First, every checkpoint is
measured into a separate store, one job after another in this process, with
resident memory reported after each job: it must not grow. Defaults: the
project's default model (spec ``[model]``: 2 layers, d_model 64, context 128,
vocabulary 512), one torch thread. Targets: pathdep / bare >= 0.8,
pathdep / naive >= 3.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import torch
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

from pathdep.data.markov import tokenizer_for
from pathdep.measure.forward import Samples, main_pass
from pathdep.measure.job import MeasureJob, run_job
from pathdep.measure.layout import suite_layout
from pathdep.models.load import load_model
from pathdep.spec import MeasureSpec
from pathdep.store import create_store, read_inputs
from pathdep.suites import Checkpoint, Run, Suite, load_suite


def build(root: Path, a) -> Suite:
    tok = tokenizer_for(a.vocab - 1)
    tok.save_pretrained(root / "tokenizer")
    cfg = GPTNeoXConfig(vocab_size=a.vocab, hidden_size=a.d_model, num_hidden_layers=a.layers,
                        num_attention_heads=a.heads, intermediate_size=4 * a.d_model,
                        max_position_embeddings=a.context)
    cks = []
    for i in range(a.checkpoints):
        torch.manual_seed(i)
        rel = f"runs/r/checkpoints/step-{i:07d}"
        GPTNeoXForCausalLM(cfg).save_pretrained(root / rel)
        cks.append(Checkpoint(step=i, path=rel))
    spec = {"name": "bench", "train": {"steps": a.checkpoints},
            "data": {"generator": "markov-mixture", "k": a.vocab - 1, "seq_len": 512,
                     "n_docs": 1, "n_eval_docs": a.seqs * a.context // 512 + 8},
            "model": {"context": a.context}}
    suite = Suite(name="bench", runs=[Run(id="r", checkpoints=cks, tokenizer="tokenizer")],
                  meta={"spec": spec})
    (root / "suite.json").write_text(suite.model_dump_json())
    return load_suite(root)


def make_store(suite: Suite, out: Path, a) -> None:
    cfg = MeasureSpec(eval_sequences=a.seqs, batch_size=a.batch_size, context=a.context,
                      check_duplicates=False)
    create_store(out, suite_layout(suite, None, cfg))


def bare(model, tokens, bs) -> float:
    t0 = time.perf_counter()
    with torch.inference_mode():
        for b in range(0, len(tokens), bs):
            model(tokens[b:b + bs])
    return time.perf_counter() - t0


def naive(model, tokens) -> float:
    t0 = time.perf_counter()
    with torch.inference_mode():
        for x in tokens:
            x = x[None]
            out = model(x, labels=x)
            lp = torch.log_softmax(out.logits[0, :-1].float(), -1)
            lp.gather(-1, x[0, 1:, None])
            out.loss.item()
    return time.perf_counter() - t0


def pass_only(model, inputs, bs) -> float:
    s = Samples(inputs["sample_seq"], inputs["sample_pos"], inputs["hsample_seq"],
                inputs["hsample_pos"], inputs["hlayers"], None)
    t0 = time.perf_counter()
    main_pass(model, inputs["tokens"], s, batch_size=bs)
    return time.perf_counter() - t0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timing(suite: Suite, stores: list[Path], a) -> dict[str, float]:
    """tokens/s per method: each timed ``a.repeat`` times per checkpoint, interleaved; min kept."""
    inputs = read_inputs(stores[0])
    tokens = torch.from_numpy(inputs["tokens"]).long()
    run = suite.runs[0]
    total = dict.fromkeys(("bare", "bare+load", "pass", "job", "naive"), 0.0)
    for ck in run.checkpoints[: a.timed]:
        best = dict.fromkeys(total, float("inf"))
        for rep in range(a.repeat):
            t0 = time.perf_counter()
            model = load_model(run, ck)
            loaded = time.perf_counter() - t0
            t = {"bare": bare(model, tokens, a.batch_size)}
            t["bare+load"] = loaded + t["bare"]
            t["pass"] = pass_only(model, inputs, a.batch_size)
            t["naive"] = naive(model, tokens)
            del model
            t["job"] = run_job(MeasureJob(str(stores[rep]), run, ck.step, a.batch_size)).seconds
            best = {k: min(best[k], t[k]) for k in best}
        total = {k: total[k] + best[k] for k in total}
    n = tokens.numel() * a.timed
    return {k: n / v for k, v in total.items()}


def memory(suite: Suite, store: Path, a) -> list[tuple[int, float, float]]:
    run, rows = suite.runs[0], []
    for ck in run.checkpoints:
        run_job(MeasureJob(str(store), run, ck.step, a.batch_size))
        rows.append((ck.step, rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    return rows


def report(a, rate: dict, mem: list) -> None:
    print(f"model: {a.layers} layers, d_model {a.d_model}, {a.heads} heads, vocab {a.vocab}; "
          f"eval {a.seqs} x {a.context} tokens, batch {a.batch_size}, "
          f"{torch.get_num_threads()} torch threads; {a.timed} checkpoints x {a.repeat} repeats")
    print(f"{'method':<44}{'tokens/s':>12}")
    for k, label in [("bare", "bare model(input_ids), model preloaded"),
                     ("pass", "pathdep main pass, model preloaded"),
                     ("bare+load", "bare: load checkpoint + forward"),
                     ("job", "pathdep job: load + all measures + write"),
                     ("naive", "naive loop (labels= + log_softmax)")]:
        print(f"{label:<44}{rate[k]:>12,.0f}")
    print(f"(a) pathdep / bare:  main pass {rate['pass'] / rate['bare']:.2f}, "
          f"whole job vs load+forward {rate['job'] / rate['bare+load']:.2f}   (target >= 0.8)")
    print(f"(b) pathdep / naive: main pass {rate['pass'] / rate['naive']:.2f}, "
          f"whole job {rate['job'] / rate['naive']:.2f}   (target >= 3)")
    print("memory over checkpoints (MB): step, RSS after job, peak RSS so far")
    for step, rss, peak in mem:
        print(f"  {step:>4} {rss:>9.1f} {peak:>9.1f}")
    growth = mem[-1][2] - mem[len(mem) // 2][2]
    print(f"peak RSS growth over the second half of the checkpoints: {growth:.1f} MB")
    print(json.dumps({"rates": {k: round(v) for k, v in rate.items()}, "peak_growth_mb": growth}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in [("checkpoints", 12), ("timed", 3), ("repeat", 3), ("seqs", 256),
                          ("context", 128), ("batch-size", 16), ("d-model", 64), ("layers", 2),
                          ("heads", 4), ("vocab", 512), ("threads", 1)]:
        p.add_argument(f"--{name}", type=int, default=default)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        suite = build(root / "suite", a)
        stores = [root / f"time{i}.zarr" for i in range(a.repeat)]
        for store in [root / "mem.zarr", *stores]:
            make_store(suite, store, a)
        mem = memory(suite, root / "mem.zarr", a)
        rate = timing(suite, stores, a)
    report(a, rate, mem)


if __name__ == "__main__":
    main()
