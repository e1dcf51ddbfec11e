"""Hub loading through a real, offline Hugging Face cache, and duplicate checkpoints.

Each test builds the cache layout the hub client writes (snapshots/<commit>,
LFS blobs named by sha256, refs/<revision>) in a tmp dir with tiny random
models, so ``from_pretrained(repo, revision=...)`` resolves through the real
code path with HF_HUB_OFFLINE=1.

    pytest tests/suites/test_hub.py
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest
import torch
from huggingface_hub import constants
from transformers import (
    BertConfig,
    BertForMaskedLM,
    GPT2Config,
    GPT2LMHeadModel,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
)

from pathdep.errors import PathdepError
from pathdep.models import load_model
from pathdep.suites import load_suite
from pathdep.suites.checkpoint import check_loadable
from pathdep.suites.duplicates import drop_duplicates, find_duplicates, weights_digest
from pathdep.suites.model import Checkpoint, Run, Suite


def neox(seed: int = 0) -> GPTNeoXForCausalLM:
    torch.manual_seed(seed)
    cfg = GPTNeoXConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    return GPTNeoXForCausalLM(cfg)


def gpt2_crfm(seed: int = 0) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=2, n_positions=64,
                     scale_attn_by_inverse_layer_idx=True, reorder_and_upcast_attn=True)
    return GPT2LMHeadModel(cfg)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An empty HF cache in tmp, offline. The hub reads its constants at import: patch both."""
    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def cache_model(cache: Path, repo: str, revision: str, model, pickled: bool = False) -> Path:
    """Save ``model`` as ``repo@revision`` the way hf_hub_download lays it out; return the snapshot."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    commit = hashlib.sha1(f"{repo}@{revision}".encode()).hexdigest()  # 40 hex, like a git commit
    snap = folder / "snapshots" / commit
    if pickled:
        model.config.save_pretrained(snap)
        torch.save(model.state_dict(), snap / "pytorch_model.bin")
    else:
        model.save_pretrained(snap)
    (folder / "blobs").mkdir(exist_ok=True)
    for f in list(snap.glob("*.safetensors")) + list(snap.glob("*.bin")):
        blob = folder / "blobs" / hashlib.sha256(f.read_bytes()).hexdigest()
        f.replace(blob)
        f.symlink_to(Path("../..") / "blobs" / blob.name)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / revision).write_text(commit)
    return snap


def preset_run(name: str, run_id: str, steps: str) -> Run:
    return load_suite(name, runs=[run_id], steps=steps).runs[0]


def test_preset_run_loads_from_the_hub_cache(hub_cache):
    saved = neox(seed=1)
    cache_model(hub_cache, "EleutherAI/pythia-14m-seed3", "step1000", saved)
    run = preset_run("polypythias-14m", "pythia-14m-seed3", "1000")
    ckpt = run.checkpoints[0]
    assert (ckpt.repo, ckpt.revision) == ("EleutherAI/pythia-14m-seed3", "step1000")
    model = load_model(run, ckpt)
    assert isinstance(model, GPTNeoXForCausalLM) and not model.training
    key = "gpt_neox.layers.1.mlp.dense_h_to_4h.weight"
    assert torch.equal(model.state_dict()[key], saved.state_dict()[key])


def test_uncached_revision_fails_naming_repo_revision_and_offline(hub_cache):
    cache_model(hub_cache, "EleutherAI/pythia-14m", "step1000", neox())
    run = preset_run("pythia-14m", "pythia-14m", "1000,2000")
    load_model(run, run.checkpoint(1000))
    with pytest.raises(PathdepError) as err:
        load_model(run, run.checkpoint(2000))
    msg = str(err.value)
    assert "EleutherAI/pythia-14m" in msg and "step2000" in msg and "HF_HUB_OFFLINE" in msg


def test_crfm_run_loads_with_eager_attention(hub_cache):
    repo = "stanford-crfm/alias-gpt2-small-x21"
    cache_model(hub_cache, repo, "checkpoint-400000", gpt2_crfm())
    run = preset_run("crfm-gpt2-small", "alias*", "400000")
    model = load_model(run, run.checkpoints[0])
    assert model.config.scale_attn_by_inverse_layer_idx is True
    assert model.config._attn_implementation == "eager"
    # Without the preset's load_kwargs the default (sdpa) is chosen: the kwarg is what matters.
    plain = run.model_copy(update={"load_kwargs": {}})
    assert load_model(plain, run.checkpoints[0]).config._attn_implementation != "eager"


def test_pickled_only_local_checkpoint_refused_unless_allowed(tmp_path):
    model = neox()
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    run = Run(id="r", checkpoints=[Checkpoint(step=0, path=str(tmp_path))])
    with pytest.raises(PathdepError, match="allow_pickle"):
        load_model(run, run.checkpoints[0])
    assert isinstance(load_model(run, run.checkpoints[0], allow_pickle=True), GPTNeoXForCausalLM)


def test_pickled_only_hub_checkpoint_refused_unless_allowed(hub_cache):
    cache_model(hub_cache, "EleutherAI/pythia-14m", "step0", neox(), pickled=True)
    run = preset_run("pythia-14m", "pythia-14m", "0")
    with pytest.raises(PathdepError, match="allow_pickle") as err:
        load_model(run, run.checkpoints[0])
    assert "step0" in str(err.value)
    assert isinstance(load_model(run, run.checkpoints[0], allow_pickle=True), GPTNeoXForCausalLM)


def test_masked_lm_is_refused(tmp_path):
    with pytest.raises(PathdepError, match="masked-lm"):
        check_loadable(load_suite("multiberts"))
    check_loadable(load_suite("crfm-gpt2-small"))
    cfg = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64)
    BertForMaskedLM(cfg).save_pretrained(tmp_path)
    run = Run(id="bert", checkpoints=[Checkpoint(step=0, path=str(tmp_path))])
    with pytest.raises(PathdepError, match="masked language model"):
        load_model(run, run.checkpoints[0])


# --- duplicate checkpoints ---------------------------------------------------


def local_run(root: Path, run_id: str, seeds_by_step: dict[int, int]) -> Run:
    """A run whose step s holds neox(seed); equal seeds give identical weights."""
    checkpoints = []
    for step, seed in seeds_by_step.items():
        folder = root / run_id / f"step{step:06d}"
        neox(seed).save_pretrained(folder)
        checkpoints.append(Checkpoint(step=step, path=str(folder)))
    return Run(id=run_id, checkpoints=checkpoints)


def test_find_and_drop_duplicates(tmp_path, caplog):
    suite = Suite(name="t", runs=[
        local_run(tmp_path, "a", {0: 7, 1: 7, 2: 8, 4: 9}),
        local_run(tmp_path, "b", {0: 1, 10: 2, 20: 1}),
        local_run(tmp_path, "c", {0: 3, 10: 4}),
    ])
    assert find_duplicates(suite) == [("a", [0, 1]), ("b", [0, 20])]
    with caplog.at_level(logging.INFO, logger="pathdep.suites.duplicates"):
        out, report = drop_duplicates(suite)
    assert [r.steps for r in out.runs] == [[0, 2, 4], [0, 10], [0, 10]]
    assert [r.steps for r in suite.runs][0] == [0, 1, 2, 4]  # the input is not changed
    assert [(r["run"], r["kept"], r["dropped"], r["contiguous"]) for r in report] == [
        ("a", 0, [1], True), ("b", 0, [20], False)
    ]
    assert out.meta["dropped_duplicates"] == report
    assert "dropped" in caplog.text and "suspect" in caplog.text


def test_hub_cached_digest_equals_the_local_one(hub_cache, tmp_path):
    model = neox(seed=5)
    model.save_pretrained(tmp_path / "local")
    cache_model(hub_cache, "EleutherAI/pythia-14m", "step0", model)
    cache_model(hub_cache, "EleutherAI/pythia-14m", "step1", model)
    cache_model(hub_cache, "EleutherAI/pythia-14m", "step2", neox(seed=6))
    local = weights_digest(Run(id="l"), Checkpoint(step=0, path=str(tmp_path / "local")))
    assert local == hashlib.sha256((tmp_path / "local" / "model.safetensors").read_bytes()).hexdigest()
    suite = load_suite("pythia-14m", steps="0,1,2")
    run = suite.runs[0]
    assert weights_digest(run, run.checkpoint(1)) == local
    assert find_duplicates(suite) == [("pythia-14m", [0, 1])]
    run = load_suite("pythia-14m", steps="4").runs[0]
    with pytest.raises(PathdepError, match="HF_HUB_OFFLINE") as err:
        weights_digest(run, run.checkpoints[0])
    assert "EleutherAI/pythia-14m" in str(err.value) and "step4" in str(err.value)


def test_online_digest_uses_lfs_metadata_without_download(hub_cache, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    calls = []

    class FakeApi:
        def model_info(self, repo, *, revision, files_metadata):
            calls.append((repo, revision, files_metadata))
            return SimpleNamespace(siblings=[
                SimpleNamespace(rfilename="config.json", lfs=None),
                SimpleNamespace(rfilename="model.safetensors", lfs=SimpleNamespace(sha256="ab" * 32)),
            ])

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    run = load_suite("pythia-70m", steps="3000").runs[0]
    assert weights_digest(run, run.checkpoints[0]) == "ab" * 32
    assert calls == [("EleutherAI/pythia-70m", "step3000", True)]
