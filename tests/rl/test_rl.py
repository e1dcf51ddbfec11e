"""RL fine-tuning: the reward, the form share, reproducibility, and a planted correlation."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch

from pathdep.errors import PathdepError
from pathdep.rl import grpo
from pathdep.rl.grpo import advantages, form_logprobs, form_share, run_seed, train_seed
from pathdep.rl.task import FormItem, FormTask, first_word
from pathdep.spec import RLSpec
from tests.rl.planted import planted_docs, planted_task, pretrain

CFG = RLSpec(steps=30, prompts_per_step=6, group=8, lr=3e-3, max_new_tokens=6, eval_every=10)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def planted():
    """A model pre-trained (~4 s) on the planted corpus: forms A and B equally frequent,
    but a value after form B's 'y' is right only half the time."""
    return pretrain(planted_docs(), steps=300)


def test_reward_on_known_strings():
    it = FormItem("The capital of Velora is", "Tamsin", "Ytamsin")
    r = FormTask.reward
    assert r(it, " Tamsin.") == 1 and r(it, " Ytamsin. The") == 1 and r(it, "Tamsin") == 1
    assert r(it, " Tamsin, then") == 1 and r(it, "  Ytamsin!") == 1
    assert r(it, " Tamsins.") == 0 and r(it, " Brool.") == 0 and r(it, "") == 0
    assert r(it, " tamsin.") == 0 and r(it, " Tam sin") == 0 and r(it, " YTamsin") == 0
    assert FormTask.form(it, " Ytamsin.") == "B" and FormTask.form(it, " Tamsin") == "A"
    assert FormTask.form(it, " Brool") is None
    assert first_word(" a b") == "a" and first_word("   ") == ""


def test_a_task_needs_two_different_forms():
    with pytest.raises(PathdepError, match="two different"):
        FormTask("t", [FormItem("p", "x", "x")], [])
    with pytest.raises(PathdepError, match="no training prompts"):
        FormTask("t", [], [FormItem("p", "x", "y")])


def test_group_advantages():
    r = torch.tensor([1.0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_allclose(advantages(r, 4, normalize=False),
                               [.75, -.25, -.25, -.25, 0, 0, 0, 0])
    a = advantages(r, 4)
    np.testing.assert_allclose(a[:4], np.array([.75, -.25, -.25, -.25]) / math.sqrt(3 / 16),
                               rtol=1e-4)
    assert (a[4:] == 0).all()  # a group that agrees teaches nothing


def test_share_on_a_constructed_uniform_model(planted):
    """With zero output weights every token has probability 1/V, so a form of n tokens has
    probability V^-n and share_A = 1 / (1 + V^(nA - nB))."""
    model, tok = planted
    m = copy.deepcopy(model)
    with torch.no_grad():
        m.get_output_embeddings().weight.zero_()
    V = m.get_output_embeddings().weight.shape[0]
    n = lambda s: len(tok(" " + s, add_special_tokens=False)["input_ids"])  # noqa: E731
    a, b = "tamsin", "flen"
    assert n(a) < n(b)
    want = 1 / (1 + float(V) ** (n(a) - n(b)))
    assert form_share(m, tok, [FormItem("The capital of Velo is", a, b)]) == pytest.approx(want)
    assert form_share(m, tok, [FormItem("x", "tamsin", "ytamsin")]) == pytest.approx(0.5)


def test_share_is_unaffected_by_padding(planted):
    """Batched (left-padded) log-probabilities equal one-at-a-time ones."""
    model, tok = planted
    items = planted_task().train[:5] + [FormItem("The capital of Velo is really not", "a", "bb")]
    batched = form_logprobs(model, tok, items, batch_size=64)
    for i, it in enumerate(items):
        p = [tok.eos_token_id] + tok(it.prompt, add_special_tokens=False)["input_ids"]
        for j, f in enumerate((it.a, it.b)):
            c = tok(" " + f, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([p + c])
            with torch.no_grad():
                lp = torch.log_softmax(model(input_ids=ids).logits[0, :-1], -1)
            want = sum(lp[len(p) - 1 + k, t].item() for k, t in enumerate(c))
            assert batched[i, j] == pytest.approx(want, abs=1e-4)


@pytest.fixture(scope="module")
def planted_gpt2():
    """The same pre-training with GPT-2 (learned absolute positions)."""
    return pretrain(planted_docs(), steps=300, arch="gpt2")


@pytest.mark.parametrize("which", ["planted", "planted_gpt2"])
def test_cached_sampling_matches_full_forward_passes(which, request):
    """At a near-zero temperature, sampling with the KV cache from left-padded prompts picks
    each row's argmax of a plain forward pass over its unpadded tokens (GPT-2 too: its
    learned positions must count from each row's first real token)."""
    model, tok = request.getfixturevalue(which)
    prompts = [[tok.eos_token_id] + tok(p, add_special_tokens=False)["input_ids"]
               for p in ("The capital of Velo is", "The", "The capital of Nimb")]
    ids, mask, gen = grpo.sample(model, tok, prompts, max_new_tokens=4, temperature=1e-4,
                                 generator=torch.Generator().manual_seed(0))
    assert ids.shape == (3, max(map(len, prompts)) + gen.shape[1]) and gen.shape[1] >= 1
    for p, row in zip(prompts, gen.tolist(), strict=True):
        for k, t in enumerate(row):
            if t == tok.eos_token_id:
                break
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([p + row[:k]])).logits[0, -1]
            assert t == int(logits.argmax())


@pytest.mark.parametrize("which", ["planted", "planted_gpt2"])
def test_one_seed_is_reproducible(which, request):
    model, tok = request.getfixturevalue(which)
    task = planted_task()
    cfg = CFG.model_copy(update={"steps": 4, "eval_every": 2})
    m1, m2, m3 = (copy.deepcopy(model) for _ in range(3))
    t1, t2 = train_seed(m1, tok, task, cfg, 7), train_seed(m2, tok, task, cfg, 7)
    t3 = train_seed(m3, tok, task, cfg, 8)
    for t in (t1, t2, t3):
        t.pop("seconds")
    assert t1 == t2 and [e["step"] for e in t1["evals"]] == [0, 2, 4]
    for p1, p2 in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(p1, p2)
    assert any(not torch.equal(p1, p3) for p1, p3 in zip(m1.parameters(), m3.parameters(),
                                                          strict=True))


def test_planted_correlation_makes_form_a_win(planted):
    """Form B's answers are right less often, so a correctness-only reward favours form A:
    its share rises and ends above 0.5 in every seed."""
    model, tok = planted
    task = planted_task()
    for seed in range(3):
        t = train_seed(copy.deepcopy(model), tok, task, CFG, seed)
        first, last = t["evals"][0], t["evals"][-1]
        assert last["step"] == CFG.steps
        assert last["share_train"] > first["share_train"] + 0.1, t["evals"]
        assert last["share_train"] > 0.5 and last["share_heldout"] > 0.5, t["evals"]
        assert np.mean(t["reward"][-10:]) > np.mean(t["reward"][:10])


def test_too_short_answers_are_refused(planted):
    model, tok = planted
    with pytest.raises(PathdepError, match="max_new_tokens to at least"):
        train_seed(model, tok, planted_task(), CFG.model_copy(update={"max_new_tokens": 1}), 0)


def test_run_seed_writes_atomically_and_reuses(planted, tmp_path, monkeypatch):
    model, tok = planted
    base = tmp_path / "base"
    model.save_pretrained(base)
    tok.save_pretrained(base)
    cfg = CFG.model_copy(update={"steps": 2, "eval_every": 1})
    folder = tmp_path / "rl" / "base@0" / "seed0"
    (folder.parent / ".seed0.tmp-abc").mkdir(parents=True)  # a killed earlier attempt
    traj = run_seed(base, planted_task(), cfg, 0, folder)
    assert {p.name for p in folder.iterdir()} == {"model", "trajectory.json", "done.json"}
    assert (folder / "model" / "model.safetensors").is_file()
    assert (folder / "model" / "tokenizer.json").is_file()
    assert not (folder.parent / ".seed0.tmp-abc").exists()
    assert json.loads((folder / "trajectory.json").read_text()) == json.loads(json.dumps(traj))

    def boom(*a, **k):
        raise AssertionError("a finished seed must not be retrained")

    monkeypatch.setattr(grpo, "train_seed", boom)
    assert run_seed(base, planted_task(), cfg, 0, folder)["evals"] == traj["evals"]
    moved = tmp_path / "moved"  # the suite folder moved whole: its finished seeds are kept
    moved.mkdir()
    for name in ("base", "rl"):
        (tmp_path / name).rename(moved / name)
    base, folder = moved / "base", moved / "rl" / "base@0" / "seed0"
    assert run_seed(base, planted_task(), cfg, 0, folder)["evals"] == traj["evals"]
    with pytest.raises(AssertionError, match="must not be retrained"):  # other settings: rerun
        run_seed(base, planted_task(), cfg.model_copy(update={"steps": 3}), 0, folder)
    assert (folder / "done.json").is_file()  # the failed rerun left the finished seed in place
