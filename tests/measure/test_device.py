"""Devices, precision and batch invariance of the measurement (issue 17 items 1 and 2).

CPU tests run everywhere; the CUDA one skips cleanly without a GPU.
"""

import numpy as np
import pytest
import torch
from transformers import GPTNeoXForCausalLM

from pathdep.errors import PathdepError
from pathdep.measure.forward import Samples, main_pass
from pathdep.models.device import auto_batch_size, resolve_device, resolve_dtype

from .suitekit import build_suite, tiny_config

GPU = torch.cuda.is_available()


def test_device_names_resolve_or_fail_with_the_fix():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in (("cuda",) if GPU else ("cpu", "mps"))
    for bad, msg in (("gpu", "unknown device"), ("cpu:1", "unknown device"),
                     ("cuda:x", "unknown device")):
        with pytest.raises(PathdepError, match=msg):
            resolve_device(bad)
    if not GPU:
        with pytest.raises(PathdepError, match="no CUDA GPU.*--device cpu"):
            resolve_device("cuda:0")
    else:
        with pytest.raises(PathdepError, match="there are"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
    if resolve_device("auto").type != "mps":
        with pytest.raises(PathdepError, match="MPS"):
            resolve_device("mps")


def test_auto_precision_is_float32_on_the_cpu_and_names_are_checked():
    cpu = torch.device("cpu")
    assert resolve_dtype("auto", cpu) is torch.float32
    assert resolve_dtype("bfloat16", cpu) is torch.bfloat16
    with pytest.raises(PathdepError, match="unknown dtype 'float64'"):
        resolve_dtype("float64", cpu)
    model = GPTNeoXForCausalLM(tiny_config(50))
    assert auto_batch_size(model, 32, cpu, given=7) == 7  # the CPU keeps the given batch


def _model(vocab: int, seed: int = 0) -> GPTNeoXForCausalLM:
    torch.manual_seed(seed)
    return GPTNeoXForCausalLM(tiny_config(vocab, hidden_size=16, num_attention_heads=2)).eval()


def _samples(n_seq: int, n_pos: int, top_k=None) -> Samples:
    rng = np.random.default_rng(0)
    return Samples(rng.integers(0, n_seq, 8), rng.integers(1, n_pos, 8), rng.integers(0, n_seq, 4),
                   rng.integers(0, n_pos, 4), [0, 1], top_k)


def test_chunked_log_softmax_equals_the_whole_one_at_gpt2s_vocabulary(monkeypatch):
    """50,257 entries: the pass holds at most LOGIT_BUDGET logits, never (tokens x vocab)."""
    from pathdep.measure import forward as fwd

    vocab, n_seq, T = 50257, 4, 24
    model = _model(vocab)
    tokens = np.random.default_rng(5).integers(0, vocab, (n_seq, T))
    monkeypatch.setattr(fwd, "LOGIT_BUDGET", vocab * 5)  # a few positions per slice
    seen = []
    real = fwd._logits
    monkeypatch.setattr(fwd, "_logits", lambda *a: seen.append(a[1].shape[0]) or real(*a))
    res = main_pass(model, tokens, _samples(n_seq, T, top_k=16), batch_size=4)
    assert 0 < max(seen) * vocab <= vocab * 5  # slices of rows, LOGIT_BUDGET floats at most
    with torch.no_grad():
        whole = torch.log_softmax(model(torch.as_tensor(tokens)).logits.float(), -1)
    want = whole[:, :-1].gather(-1, torch.as_tensor(tokens)[:, 1:, None])[..., 0].numpy()
    np.testing.assert_allclose(res.logprob[:, 1:], want, atol=1e-6, rtol=0)
    ent = -(whole.exp() * whole).sum(-1)[:, :-1].numpy()
    np.testing.assert_allclose(res.entropy[:, 1:], ent, atol=1e-5, rtol=0)


def test_logprobs_do_not_depend_on_the_batch_size():
    vocab, n_seq, T = 60, 16, 32
    model = _model(vocab, seed=3)
    tokens = np.random.default_rng(6).integers(0, vocab, (n_seq, T))
    one = main_pass(model, tokens, _samples(n_seq, T), batch_size=1)
    many = main_pass(model, tokens, _samples(n_seq, T), batch_size=16)
    np.testing.assert_allclose(one.logprob, many.logprob, atol=1e-5, rtol=0)
    np.testing.assert_allclose(one.entropy, many.entropy, atol=1e-5, rtol=0)
    np.testing.assert_allclose(one.dist_logp, many.dist_logp, atol=1e-5, rtol=0)


def _measure(tmp_path, name, **kw):
    from pathdep.measure import measure
    from pathdep.store import open_store

    suite = build_suite(tmp_path / "suite", runs=("a",), steps=(0, 10))
    out = tmp_path / f"{name}.zarr"
    measure(suite, out=out, **kw)
    return suite, out, open_store(out)


def test_a_store_measured_at_batch_1_equals_one_at_batch_16_and_records_how(tmp_path):
    from pathdep.measure.api import default_options

    suite, _, a = _measure(tmp_path, "b1", batch_size=1)
    cfg = default_options(suite, batch_size=16, device="cpu", dtype="float32")
    _, _, b = _measure(tmp_path, "b16", config=cfg)
    for var in ("logprob", "entropy", "head_score", "dist_logp", "loss"):
        np.testing.assert_allclose(a[var].values, b[var].values, atol=1e-5, rtol=0)
    assert (a.attrs["measure_device"], a.attrs["measure_dtype"]) == ("cpu", "float32")
    assert (a.attrs["measure_batch_size"], b.attrs["measure_batch_size"]) == ("1", "16")


def test_bfloat16_weights_are_recorded_and_a_store_never_mixes_precisions(tmp_path):
    from pathdep.measure.api import default_options

    suite = build_suite(tmp_path / "suite", runs=("a",), steps=(0, 10))
    full = tmp_path / "f32.zarr"
    from pathdep.measure import measure
    from pathdep.store import open_store

    measure(suite, out=full)
    half = tmp_path / "bf16.zarr"
    measure(suite, out=half, config=default_options(suite, dtype="bfloat16"))
    f, h = open_store(full), open_store(half)
    assert h.attrs["measure_dtype"] == "bfloat16"
    gap = np.nanmax(np.abs(f["logprob"].values - h["logprob"].values))
    assert 0 < gap < 0.2  # bfloat16 weights change the numbers, a little
    with pytest.raises(PathdepError, match="measured with float32 weights.*--dtype float32"):
        measure(suite, out=full, config=default_options(suite, dtype="bfloat16"))


def test_the_cli_refuses_a_missing_device_before_writing_anything(tmp_path):
    from typer.testing import CliRunner

    from pathdep.cli import app

    build_suite(tmp_path / "suite", runs=("a",), steps=(0,))
    out = tmp_path / "m.zarr"
    bad = "cuda:99" if GPU else "cuda"
    r = CliRunner().invoke(app, ["measure", str(tmp_path / "suite"), "--out", str(out),
                                 "--device", bad])
    assert r.exit_code == 2 and "--device" in r.output
    r = CliRunner().invoke(app, ["measure", str(tmp_path / "suite"), "--out", str(out),
                                 "--dtype", "float64"])
    assert r.exit_code == 2 and "dtype" in r.output
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["suite"]


@pytest.mark.skipif(not GPU, reason="needs a CUDA GPU")
def test_cuda_float32_agrees_with_the_cpu(tmp_path):
    from pathdep.measure.api import default_options

    suite, _, cpu = _measure(tmp_path, "cpu")
    cfg = default_options(suite, device="cuda", dtype="float32", batch_size=16)
    _, _, gpu = _measure(tmp_path, "gpu", config=cfg)
    assert gpu.attrs["measure_device"] == "cuda"
    for var in ("logprob", "entropy", "head_score"):
        np.testing.assert_allclose(cpu[var].values, gpu[var].values, atol=1e-4, rtol=0)
