"""Peak memory against the size of the evaluation set, up to the seeds' 1M tokens (issue 17 item 5).

    python benchmarks/eval_memory.py                         # 131k, 524k and 1,048k tokens
    python benchmarks/eval_memory.py --tokens 65536 --tokens 1048576

For each size, in a fresh process: a .jsonl of web-like text (sentences of
common English words, punctuation, numbers; one document a line) is written,
and one small GPT-NeoX checkpoint (d_model 64, 2 layers, a 4,096-entry BPE
trained on the text, context 512) is measured on it with ``pathdep.measure``.
Reported per size: resident memory after imports and the model load (the
base), the peak after laying the store out (reading and tokenising the file),
after creating it (writing tokens and token strings), and of the whole call
(the job included), each minus the base. What
grows with the tokens by design: the job's per-token result arrays
(log-prob and entropy, 8 bytes a token) and the tokens themselves (4 bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

_TEXT = ("the of and to in is was for on that with as by at from his her it an were are which "
         "this be or has had not but first one their its new after who they have two been also "
         "more all into other time many some world year city when about most there can between "
         "people state would during school under known where made three such than only over may "
         "series later team government new music including part used since early high became")
WORDS = _TEXT.split()


def write_jsonl(path: Path, n_words: int, seed: int = 0) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        left = n_words
        while left > 0:
            n = int(rng.integers(80, 400))
            words = [WORDS[i] for i in rng.integers(0, len(WORDS), n)]
            for k in range(0, n, int(rng.integers(8, 20))):
                words[k] = words[k].capitalize()
                if k:
                    words[k - 1] += "."
            words[int(rng.integers(0, n))] = str(int(rng.integers(1800, 2030)))
            f.write(json.dumps({"text": " ".join(words) + "."}) + "\n")
            left -= n


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(tokens: int, root: Path) -> dict:
    """One size, in this (fresh) process."""
    import torch
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    from pathdep.data.tokenizer import train_bpe
    from pathdep.measure import api, measure
    from pathdep.measure import layout as layout_mod
    from pathdep.models.load import load_folder
    from pathdep.spec import MeasureSpec
    from pathdep.suites import Checkpoint, Run, Suite

    torch.set_num_threads(1)
    context = 512
    write_jsonl(root / "eval.jsonl", int(tokens * 1.1))
    with open(root / "eval.jsonl") as f:
        sample = [json.loads(x)["text"] for x in f.readlines()[:200]]
    train_bpe(sample, 4096, 2).save_pretrained(root / "tok")
    cfg = GPTNeoXConfig(vocab_size=4096, hidden_size=64, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=256,
                        max_position_embeddings=context)
    torch.manual_seed(0)
    GPTNeoXForCausalLM(cfg).save_pretrained(root / "ck")
    suite = Suite(name="mem", runs=[Run(id="r", tokenizer=str(root / "tok"),
                                        checkpoints=[Checkpoint(step=0, path=str(root / "ck"))])])
    load_folder(root / "ck")  # the model's own memory is in the base
    base = rss_mb()
    real = layout_mod.suite_layout
    laid = {}

    def spy(*a, **k):
        out = real(*a, **k)
        laid["peak"] = peak_mb()
        return out

    api.suite_layout = spy
    real_create = api.create_store

    def spy_create(*a, **k):
        out = real_create(*a, **k)
        laid["created"] = peak_mb()
        return out

    api.create_store = spy_create
    opts = MeasureSpec(eval_sequences=tokens // context, context=context, batch_size=8,
                       check_duplicates=False, device="cpu", dtype="float32")
    r = measure(suite, out=root / "m.zarr", evalset=root / "eval.jsonl", config=opts)
    assert r.ok, r.failed
    return {"tokens": r.tokens, "base_mb": base, "layout_peak_mb": laid["peak"] - base,
            "store_peak_mb": laid["created"] - base, "peak_mb": peak_mb() - base}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, action="append")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(child(a.child, Path(tmp))))
        return
    rows = []
    for n in a.tokens or [131072, 524288, 1048576]:
        out = subprocess.run([sys.executable, __file__, "--child", str(n)], capture_output=True,
                             text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if out.returncode:
            sys.exit(out.stderr[-3000:])
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'tokens':>10} {'base MB':>9} {'layout - base':>14} {'+ store - base':>15} "
          f"{'peak - base':>12}")
    for r in rows:
        print(f"{r['tokens']:>10,} {r['base_mb']:>9.0f} {r['layout_peak_mb']:>14.1f} "
              f"{r['store_peak_mb']:>15.1f} {r['peak_mb']:>12.1f}")
    if len(rows) > 1:
        d = (rows[-1]["peak_mb"] - rows[0]["peak_mb"]) / ((rows[-1]["tokens"] - rows[0]["tokens"]) / 1e6)
        print(f"peak growth: {d:.1f} MB per million tokens "
              "(the job's log-prob and entropy arrays alone are 8 MB per million)")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
