"""Training throughput: pathdep's training loop against a bare PyTorch loop.

    python benchmarks/train_throughput.py [--steps 200] [--repeats 3]

Both loops train the same GPT-NeoX (the demo's size) on the same batches with
the same batch size, AdamW and gradient clipping, alternating A/B so machine
noise hits both; pathdep's loop also builds batches from its data order, logs
what it saw and saves its checkpoint schedule. Prints tokens/s of each and the
ratio (target >= 0.95, issue 17).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch

from pathdep.models.build import build_model
from pathdep.spec import load_spec
from pathdep.train.batches import DataOrder
from pathdep.train.grid import expand_grid
from pathdep.train.loop import load_corpus, train_run
from pathdep.train.prepare import prepare

DEMO = Path(__file__).resolve().parents[1] / "src" / "pathdep" / "examples" / "demo.toml"


def bare_loop(plan, tok, batches) -> float:
    torch.manual_seed(plan.seed)
    model = build_model(plan.model, tok)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=plan.train.lr, weight_decay=plan.train.weight_decay)
    t0 = time.perf_counter()
    for x in batches:
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), plan.train.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
    return len(batches) * batches[0].numel() / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    spec = load_spec(DEMO)
    spec.train.steps = args.steps
    spec.interventions = []
    spec.branches = []  # the demo branches at step 600, past a short benchmark's end
    spec.rl = None
    plan = expand_grid(spec)[0]
    plan.interventions = []
    work = Path(tempfile.mkdtemp(prefix="pathdep-bench-"))
    try:
        tok, _ = prepare(spec, work / "suite")
        order = DataOrder(load_corpus(work / "suite"), plan.data_seed, plan.model.context,
                          plan.train.batch_size)
        batches = [order.batch(s)[0] for s in range(args.steps)]
        ours, bare = [], []
        for _ in range(args.repeats):
            shutil.rmtree(work / "suite" / "runs", ignore_errors=True)
            ours.append(train_run(work / "suite", plan)["tokens_per_s"])
            bare.append(bare_loop(plan, tok, batches))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    o, b = statistics.median(ours), statistics.median(bare)
    print(f"model: {plan.model.n_layers} layers, d_model {plan.model.d_model}, context "
          f"{plan.model.context}, batch {plan.train.batch_size}; {args.steps} steps x {args.repeats}; "
          f"torch threads {torch.get_num_threads()}")
    print(f"pathdep loop : {o:12,.0f} tokens/s  (runs: {', '.join(f'{x:,.0f}' for x in ours)})")
    print(f"bare loop    : {b:12,.0f} tokens/s  (runs: {', '.join(f'{x:,.0f}' for x in bare)})")
    print(f"ratio pathdep/bare = {o / b:.3f}  (target >= 0.95)")


if __name__ == "__main__":
    main()
