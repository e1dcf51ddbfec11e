"""Every benchmark runs, at a tiny size, so none can rot unnoticed (issue 17 item 6).

Sizes here say nothing about speed: the ratios are recorded in BENCHMARKS.md from
full-size runs. Each benchmark must finish and print the line its ratio is read from.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "train_throughput.py": (["--steps", "3", "--repeats", "1"], "ratio pathdep/bare"),
    "measure_throughput.py": (["--checkpoints", "2", "--timed", "1", "--repeat", "1", "--seqs", "4",
                               "--context", "32", "--d-model", "16", "--layers", "1", "--heads",
                               "2", "--vocab", "32"], "(a) pathdep / bare"),
    "gpt2_small.py": (["--layers", "1", "--d-model", "32", "--heads", "2", "--vocab", "300",
                       "--seqs", "2", "--context", "32", "--repeat", "1", "--naive"], "pass/naive"),
    "streaming.py": (["--checkpoints", "2", "--seqs", "4", "--context", "32", "--d-model", "32",
                      "--layers", "1", "--vocab", "64", "--repeat", "1"],
                     "streamed / max(downloads, jobs)"),
    "analysis_scale.py": (["--tokens", "2000", "--steps", "3", "--n-boot", "20"], ""),
    "training_maps.py": ([], ""),
    "eval_memory.py": (["--tokens", "4096", "--tokens", "8192"], "peak growth"),
    "induction_vocab.py": (["--steps", "3", "--every", "2", "--symbols", "32"], "prefix-matching"),
    "induction_mixture.py": (["--steps", "3", "--every", "2"], "prefix matching"),
}


def test_every_benchmark_is_listed_here():
    assert {p.name for p in (ROOT / "benchmarks").glob("*.py")} == set(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_benchmark_runs_at_a_tiny_size(name, tmp_path):
    args, marker = TINY[name]
    if name == "analysis_scale.py":
        args = [*args, "--path", str(tmp_path / "store.zarr")]
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
           "HOME": str(tmp_path), "TMPDIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *args], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert marker in r.stdout, r.stdout[-2000:]
