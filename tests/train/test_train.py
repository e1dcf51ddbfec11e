import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.numpy import load_file

from pathdep.errors import PathdepError
from pathdep.train import train
from pathdep.train.loop import ckpt_dir


def _weights(folder):
    return load_file(str(folder / "model.safetensors"))


def _same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_train_writes_suite_with_checkpoints_and_sidecars(tmp_path, tiny_spec):
    suite = train(tiny_spec(), tmp_path / "s")
    assert [r.id for r in suite.runs] == ["seed0-data0", "seed1-data0"]
    run = suite.runs[0]
    assert run.steps == [0, 1, 3, 8, 24]
    last = ckpt_dir(tmp_path / "s", run.id, 24)
    side = json.loads((last / "pathdep.json").read_text())
    assert side["step"] == 24 and side["tokens_seen"] == 24 * 4 * 48
    assert side["factors"] == {"seed": 0, "data_seed": 0}
    assert np.isfinite(side["train_loss"])
    assert (last / "tokenizer.json").is_file() and (last / "config.json").is_file()
    # the manifest reloads to the same suite
    from pathdep.suites import load_suite

    again = load_suite(tmp_path / "s")
    assert again.run_ids == suite.run_ids and again.runs[1].steps == run.steps


def test_same_spec_gives_bit_identical_weights_and_seeds_differ(tmp_path, tiny_spec):
    spec = tiny_spec()
    train(spec, tmp_path / "a")
    train(spec, tmp_path / "b")
    wa = _weights(ckpt_dir(tmp_path / "a", "seed0-data0", 24))
    wb = _weights(ckpt_dir(tmp_path / "b", "seed0-data0", 24))
    assert _same(wa, wb)
    w1 = _weights(ckpt_dir(tmp_path / "a", "seed1-data0", 0))
    w0 = _weights(ckpt_dir(tmp_path / "a", "seed0-data0", 0))
    assert not _same(w0, w1)


def test_init_seed_fixes_weights_data_seed_fixes_order(tmp_path, tiny_spec):
    spec = tiny_spec(grid={"seed": [0], "data_seed": [0, 1]})
    train(spec, tmp_path / "s")
    w00 = _weights(ckpt_dir(tmp_path / "s", "seed0-data0", 0))
    w01 = _weights(ckpt_dir(tmp_path / "s", "seed0-data1", 0))
    assert _same(w00, w01)  # same init seed -> same initial weights
    f00 = _weights(ckpt_dir(tmp_path / "s", "seed0-data0", 24))
    f01 = _weights(ckpt_dir(tmp_path / "s", "seed0-data1", 24))
    assert not _same(f00, f01)  # different data order -> different training


def _write_spec(path, d):
    lines = []

    def emit(prefix, obj):
        scalars = {k: v for k, v in obj.items() if not isinstance(v, dict)}
        if prefix:
            lines.append(f"[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{k} = {json.dumps(v)}")
        for k, v in obj.items():
            if isinstance(v, dict):
                emit(f"{prefix}.{k}" if prefix else k, v)

    emit("", d)
    path.write_text("\n".join(lines) + "\n")


def test_sigkill_then_resume_matches_uninterrupted(tmp_path, tiny_spec):
    from tests.conftest import tiny_spec_dict

    d = tiny_spec_dict(train={"steps": 400, "checkpoints": "every:20"}, grid={"seed": [0], "data_seed": [0]})
    spec_file = tmp_path / "s.toml"
    _write_spec(spec_file, d)
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "pathdep.cli", "train", str(spec_file), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    ck = out / "runs" / "seed0-data0" / "checkpoints"
    deadline = time.time() + 120
    while time.time() < deadline and not (ck / "step-0000100").exists():
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (ck / "step-0000100").exists(), proc.stderr.read().decode()
    assert not (ck / "step-0000400").exists(), "training finished before the kill; make it longer"
    train(spec_file, out)  # resume
    train(spec_file, tmp_path / "clean")
    a = _weights(ck / "step-0000400")
    b = _weights(ckpt_dir(tmp_path / "clean", "seed0-data0", 400))
    assert _same(a, b)
    assert not list(ck.glob(".*tmp*")), "a half-written checkpoint was left behind"


def test_folder_with_a_different_suite_is_refused(tmp_path, tiny_spec):
    train(tiny_spec(), tmp_path / "s")
    with pytest.raises(PathdepError, match="already holds a different suite"):
        train(tiny_spec(train={"lr": 1e-2}), tmp_path / "s")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(PathdepError, match="not empty"):
        train(tiny_spec(), other)
    assert (other / "notes.txt").read_text() == "mine"


def test_interventions_inject_and_record_steps(tmp_path, tiny_spec):
    spec = tiny_spec(
        interventions=[{"name": "burst", "docs": ["s1 s1 s1 s1", "s2 s2 s2 s2"], "start": 2, "end": 6,
                        "every": 2}],
        grid={"seed": [0], "data_seed": [0]},
    )
    train(spec, tmp_path / "s")
    side = json.loads((ckpt_dir(tmp_path / "s", "seed0-data0", 24) / "pathdep.json").read_text())
    assert side["seen"] == {"burst:0": [2, 6], "burst:1": [4]}


def test_text_corpus_empty_and_missing_are_clear_errors(tmp_path, tiny_spec):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n   \n")
    with pytest.raises(PathdepError, match="empty"):
        train(tiny_spec(data={"generator": "text", "path": str(empty)}), tmp_path / "a")
    with pytest.raises(PathdepError, match="does not exist"):
        train(tiny_spec(data={"generator": "text", "path": str(tmp_path / "nope.txt")}), tmp_path / "b")


def test_ctrl_c_says_how_to_resume_and_the_rerun_finishes(tmp_path):
    """SIGINT during `pathdep train`: exit 130 with how to resume; the same command then ends
    the suite from the last checkpoint (issue 15 item 2)."""
    from tests.conftest import tiny_spec_dict

    d = tiny_spec_dict(train={"steps": 400, "checkpoints": "every:20"}, grid={"seed": [0], "data_seed": [0]})
    spec_file = tmp_path / "s.toml"
    _write_spec(spec_file, d)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "pathdep.cli", "train", str(spec_file), "--out", str(out)]
    # A shell running the tests in the background starts them with SIGINT ignored, which the
    # child would inherit (and Python then installs no KeyboardInterrupt handler): restore it.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    ck = out / "runs" / "seed0-data0" / "checkpoints"
    deadline = time.time() + 120
    while time.time() < deadline and not (ck / "step-0000040").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    text = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 130, text
    assert "run the same command again to resume" in text
    assert not (ck / "step-0000400").exists(), "training finished before the interrupt"
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (ck / "step-0000400").exists()
