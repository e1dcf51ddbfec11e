"""Benchmark: PCA of per-token losses and run agreement on a large synthetic Zarr store.

    python benchmarks/analysis_scale.py                          # 2 runs × 100 steps × 1M tokens
    python benchmarks/analysis_scale.py --tokens 100000 --steps 20  # a quick one

The store follows docs/store.md (``logprob`` chunked 1 × 1 on run, step) and is
written one (run, step) slab at a time, so writing it never holds it in memory.
Each phase (write, loss_pca, agreement) runs in its own process, which reports
its wall time and peak resident memory (``resource.getrusage``, ru_maxrss), so
one phase's memory does not hide another's. ``--tracemalloc`` also reports the
peak of Python/numpy allocations (slower).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _slab(rng, runs: int, t: float, base: np.ndarray, final: np.ndarray, dirs: np.ndarray):
    """(run, 1, seq, pos) log-probs at training progress t ∈ [0, 1]."""
    n = base.size
    out = np.empty((runs, 1, n), np.float32)
    for r in range(runs):
        loss = base + (final - base) * t**0.5 + (t * (1 - t)) * dirs[r] + rng.normal(0, 0.1, n)
        out[r, 0] = -loss
    return out


def write_store(path: Path, tokens: int, runs: int, steps: int, dtype: str, seed: int = 0) -> None:
    import xarray as xr

    n_pos = 1000 if tokens >= 1000 else tokens
    n_seq = tokens // n_pos
    rng = np.random.default_rng(seed)
    vocab = np.array([f"tok{i}" if i % 7 else f"({i})" for i in range(5000)], dtype=object)
    ids = rng.zipf(1.3, (n_seq, n_pos)) % 5000
    base = rng.uniform(6, 9, n_seq * n_pos).astype(np.float32)
    final = rng.uniform(0.5, 4, n_seq * n_pos).astype(np.float32)
    dirs = rng.normal(0, 2, (runs, n_seq * n_pos)).astype(np.float32)
    step_values = np.arange(steps) * 1000
    for j, s in enumerate(step_values):
        lp = _slab(rng, runs, j / max(steps - 1, 1), base, final, dirs)
        lp = lp.reshape(runs, 1, n_seq, n_pos)
        lp[..., 0] = np.nan
        ds = xr.Dataset({"logprob": (("run", "step", "seq", "pos"), lp.astype(dtype)),
                         "done": (("run", "step"), np.ones((runs, 1), bool))},
                        coords={"run": [f"run{i}" for i in range(runs)], "step": [int(s)]},
                        attrs={"suite": "benchmark", "eval_hash": "0" * 64})  # every append: attrs
        if j == 0:
            ds["tokens"] = (("seq", "pos"), ids.astype(np.int32))
            ds["token_str"] = (("seq", "pos"), vocab[ids])
            ds = ds.assign_coords(factor_seed=("run", np.arange(runs)))
            enc = {"logprob": {"chunks": (1, 1, n_seq, n_pos)}, "done": {"chunks": (1, 1)}}
            ds.to_zarr(path, mode="w", encoding=enc)
        else:
            ds.to_zarr(path, append_dim="step")


def run_phase(phase: str, path: Path, n_boot: int, trace: bool) -> dict:
    from pathdep.analysis.data import open_store
    from pathdep.analyze.agreement import agreement
    from pathdep.analyze.loss_pca import loss_pca

    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    if phase == "write":
        return {}
    ds = open_store(path)
    res = (loss_pca(ds, n_boot=n_boot) if phase == "loss_pca" else agreement(ds, n_boot=n_boot))
    out = {"seconds": time.perf_counter() - t0, "verdict": res.verdict}
    if trace:
        out["tracemalloc_peak_gb"] = tracemalloc.get_traced_memory()[1] / 1e9
    return out


def _child(args) -> None:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if args.phase == "write":
            write_store(args.path, args.tokens, args.runs, args.steps, args.dtype)
            out = {"seconds": time.perf_counter() - t0}
        else:
            out = run_phase(args.phase, args.path, args.n_boot, args.tracemalloc)
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux
    sys.stdout.write(json.dumps(out) + "\n")


def _spawn(args, phase: str) -> dict:
    cmd = [sys.executable, __file__, "--phase", phase, "--path", str(args.path),
           "--tokens", str(args.tokens), "--runs", str(args.runs), "--steps", str(args.steps),
           "--dtype", args.dtype, "--n-boot", str(args.n_boot)]
    if args.tracemalloc:
        cmd.append("--tracemalloc")
    env = dict(os.environ)
    if args.threads:
        env.update({v: str(args.threads) for v in THREAD_VARS})
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    p.add_argument("--n-boot", type=int, default=500)
    p.add_argument("--path", type=Path, default=Path("/tmp/pathdep_bench/store.zarr"))
    p.add_argument("--keep", action="store_true", help="keep (and reuse) the store")
    p.add_argument("--tracemalloc", action="store_true")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads per phase (0: library default); 1 is fastest on a shared box")
    p.add_argument("--phase", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.phase:
        return _child(args)
    print(f"store: {args.runs} runs × {args.steps} steps × {args.tokens:,} tokens ({args.dtype}); "
          f"BLAS threads: {args.threads or 'default'}")
    if not (args.keep and args.path.exists()):
        shutil.rmtree(args.path, ignore_errors=True)
        r = _spawn(args, "write")
        print(f"write      {r['seconds']:7.1f} s   peak RSS {r['peak_rss_gb']:.2f} GB")
    for phase in ("loss_pca", "agreement"):
        r = _spawn(args, phase)
        extra = f"   tracemalloc {r['tracemalloc_peak_gb']:.2f} GB" if "tracemalloc_peak_gb" in r else ""
        print(f"{phase:10} {r['seconds']:7.1f} s   peak RSS {r['peak_rss_gb']:.2f} GB{extra}")
        print(f"           {r['verdict']}")
    if not args.keep:
        shutil.rmtree(args.path, ignore_errors=True)


if __name__ == "__main__":
    main()
