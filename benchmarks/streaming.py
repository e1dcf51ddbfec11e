"""Streaming hub checkpoints: prefetching against download-then-measure (issue 17 item 3).

    python benchmarks/streaming.py                       # 6 checkpoints, 25 MB/s "network"
    python benchmarks/streaming.py --checkpoints 8 --mbps 50

K random GPT-NeoX checkpoints are served by a stand-in hub: "downloading" one
copies its files into a real Hugging Face cache layout (blobs, snapshots,
refs) in a temporary HF_HUB_CACHE and waits size / ``--mbps`` (the network).
``pathdep.measure`` then measures the suite both ways, each into a fresh store and
with an empty cache: ``--prefetch 0`` (each download waits for the previous
job: load, then measure, in sequence) and ``--prefetch 1`` (the next download
runs while this checkpoint is measured), ``--repeat`` times interleaved after an
untimed warm-up, the fastest of each counting. Reported: the total download time, the
total job time, and streamed / max(download, jobs): target <= 1.15. Each
revision is removed from the cache once stored (the default), so the cache
never holds more than the prefetched ones.
"""

from __future__ import annotations

import os
import tempfile

TMP = tempfile.mkdtemp(prefix="pathdep-stream-")
os.environ["HF_HOME"] = os.path.join(TMP, "hf")  # before huggingface_hub reads its constants
os.environ["HF_HUB_CACHE"] = os.path.join(TMP, "hf", "hub")
os.environ["HF_HUB_OFFLINE"] = "1"

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM  # noqa: E402

from pathdep.data.markov import tokenizer_for  # noqa: E402
from pathdep.measure import api, measure  # noqa: E402
from pathdep.spec import MeasureSpec  # noqa: E402
from pathdep.suites import Checkpoint, Run, Suite  # noqa: E402

REPO = "bench/stream"


def build(src: Path, a) -> Suite:
    cfg = GPTNeoXConfig(vocab_size=a.vocab, hidden_size=a.d_model, num_hidden_layers=a.layers,
                        num_attention_heads=4, intermediate_size=4 * a.d_model,
                        max_position_embeddings=a.context)
    for i in range(a.checkpoints):
        torch.manual_seed(i)
        GPTNeoXForCausalLM(cfg).save_pretrained(src / f"step{i}")
    tokenizer_for(a.vocab - 1).save_pretrained(src / "tokenizer")
    cks = [Checkpoint(step=i, repo=REPO, revision=f"step{i}") for i in range(a.checkpoints)]
    spec = {"name": "stream", "model": {"context": a.context}, "train": {"steps": 1},
            "data": {"generator": "markov-mixture", "k": a.vocab - 1, "seq_len": 512,
                     "n_eval_docs": a.seqs * a.context // 512 + 8}}
    return Suite(name="stream", runs=[Run(id="r", checkpoints=cks,
                                          tokenizer=str(src / "tokenizer"))], meta={"spec": spec})


def put(src: Path, revision: str) -> int:
    """Lay ``src/revision`` out in the HF cache as hf_hub_download does; return its bytes."""
    root = Path(os.environ["HF_HUB_CACHE"]) / f"models--{REPO.replace('/', '--')}"
    commit = hashlib.sha1(revision.encode()).hexdigest()
    snap = root / "snapshots" / commit
    snap.mkdir(parents=True, exist_ok=True)
    (root / "blobs").mkdir(exist_ok=True)
    total = 0
    for f in (src / revision).iterdir():
        blob = root / "blobs" / hashlib.sha256(f"{revision}/{f.name}".encode()).hexdigest()
        shutil.copyfile(f, blob)
        (snap / f.name).symlink_to(Path("../..") / "blobs" / blob.name)
        total += f.stat().st_size
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / revision).write_text(commit)
    return total


class Hub:
    """The stand-in: copies a revision into the cache, at ``mbps`` MB/s."""

    def __init__(self, src: Path, mbps: float):
        self.src, self.mbps, self.seconds, self.lock = src, mbps, 0.0, threading.Lock()

    def download(self, ckpt, allow_pickle=False) -> None:
        t0 = time.perf_counter()
        nbytes = put(self.src, ckpt.revision)
        time.sleep(max(0.0, nbytes / (self.mbps * 1e6) - (time.perf_counter() - t0)))
        with self.lock:
            self.seconds += time.perf_counter() - t0


def clear_cache() -> None:
    shutil.rmtree(os.environ["HF_HUB_CACHE"], ignore_errors=True)
    Path(os.environ["HF_HUB_CACHE"]).mkdir(parents=True)


def one(suite: Suite, hub: Hub, store: Path, prefetch: int, cfg: MeasureSpec, src: Path):
    clear_cache()
    put(src, "step0")  # the layout reads a config; the user's copy: it stays cached
    hub.seconds = 0.0
    api.download = hub.download
    t0 = time.perf_counter()
    result = measure(suite, out=store, config=cfg, prefetch=prefetch)
    wall = time.perf_counter() - t0
    assert result.ok, result.failed
    left = sorted(p.name for p in (Path(os.environ["HF_HUB_CACHE"]) / f"models--{REPO.replace('/', '--')}"
                                   / "refs").iterdir())
    return wall, hub.seconds, left


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in [("checkpoints", 6), ("seqs", 64), ("context", 128), ("d-model", 256),
                          ("layers", 4), ("vocab", 1000), ("threads", 1), ("repeat", 2)]:
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--mbps", type=float, default=25.0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    try:
        src = Path(TMP) / "src"
        suite = build(src, a)
        cfg = MeasureSpec(eval_sequences=a.seqs, context=a.context, check_duplicates=False,
                          device="cpu", dtype="float32")
        one(suite, Hub(src, a.mbps), Path(TMP) / "warm.zarr", 1, cfg, src)  # first-call costs
        runs = {0: [], 1: []}
        for rep in range(a.repeat):  # interleaved; the fastest of each counts
            for k in (0, 1):
                runs[k].append(one(suite, Hub(src, a.mbps), Path(TMP) / f"p{k}-{rep}.zarr", k,
                                   cfg, src))
        seq_wall, seq_dl, _ = min(runs[0])
        str_wall, str_dl, left = min(runs[1])
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    jobs = seq_wall - seq_dl  # in sequence, the wall time is downloads + jobs
    bound = max(str_dl, jobs)
    size_mb = sum(p.numel() for p in GPTNeoXForCausalLM(GPTNeoXConfig(
        vocab_size=a.vocab, hidden_size=a.d_model, num_hidden_layers=a.layers,
        num_attention_heads=4, intermediate_size=4 * a.d_model)).parameters()) * 4 / 1e6
    print(f"{a.checkpoints} checkpoints of {size_mb:.0f} MB (GPT-NeoX {a.layers} layers, d_model "
          f"{a.d_model}, vocab {a.vocab}); eval {a.seqs} x {a.context}; network {a.mbps:g} MB/s; "
          f"{a.threads} torch threads")
    print(f"  download then measure (prefetch 0): {seq_wall:7.2f} s  (downloads {seq_dl:.2f} s, "
          f"jobs {jobs:.2f} s)")
    print(f"  streamed (prefetch 1)             : {str_wall:7.2f} s  (downloads {str_dl:.2f} s)")
    print(f"  streamed / max(downloads, jobs) = {str_wall / bound:.3f}  (target <= 1.15); "
          f"sequential / streamed = {seq_wall / str_wall:.2f}; cache left: {left}")
    print(json.dumps({"sequential_s": round(seq_wall, 3), "streamed_s": round(str_wall, 3),
                      "downloads_s": round(str_dl, 3), "jobs_s": round(jobs, 3),
                      "ratio": round(str_wall / bound, 4)}))


if __name__ == "__main__":
    main()
