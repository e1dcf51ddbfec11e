"""Instability analysis, basins and the lmc entry point on fabricated suites with known answers.

Models: A (a briefly trained tiny GPT-NeoX), P = A with permuted hidden units (the
same function in another basin), and A or P plus tiny noise (same basin).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from pathdep.analysis.data import Skip
from pathdep.analysis.result import AnalysisResult
from pathdep.analyze.verbs import barriers
from pathdep.errors import PathdepError
from pathdep.lmc import basins, branch_pairs, instability
from pathdep.lmc.cache import CACHE_DIR
from pathdep.measure.evalset import token_hash
from pathdep.suites import Checkpoint, Run, Suite, load_suite
from tests.lmc.test_barrier import eval_tokens, noisy, one_thread, permuted_twin, trained

__all__ = ["one_thread"]  # the module-scoped fixture that keeps torch on one thread

GRID = {"parent": "", "branch_step": -1}


@pytest.fixture(scope="module")
def models():
    a = trained()
    p = permuted_twin(a)
    return {"A": a, "A~": noisy(a), "P": p, "P~": noisy(p, seed=1)}


def build(root: Path, runs: dict[str, tuple[dict, dict[int, str]]], models) -> Suite:
    """A suite folder: run -> (factors, {step: model name}); one folder per checkpoint."""
    suite_runs = []
    for rid, (factors, steps) in runs.items():
        cks = []
        for step, name in steps.items():
            rel = f"runs/{rid}/checkpoints/step-{step:07d}"
            models[name].save_pretrained(root / rel)
            cks.append(Checkpoint(step=step, path=rel))
        suite_runs.append(Run(id=rid, factors=factors, checkpoints=cks))
    suite = Suite(name="lmc-test", runs=suite_runs, source="trained")
    (root / "suite.json").write_text(suite.model_dump_json(indent=1))
    return load_suite(root)


def branch(k: int, data_seed: int, **extra) -> dict:
    return {"parent": "p", "branch_step": k, "data_seed": data_seed, "seed": 0, "lr": 0.01,
            **extra}


def store(suite: Suite, behavior: dict[str, list[float]] | None = None) -> xr.Dataset:
    """A small measurement store: eval tokens, done, factors and (optionally) behaviour."""
    tokens = eval_tokens(20)
    runs, steps = suite.run_ids, suite.steps
    done = np.array([[s in r.steps for s in steps] for r in suite.runs])
    data = {"tokens": (("seq", "pos"), tokens), "done": (("run", "step"), done)}
    coords = {"run": runs, "step": np.array(steps, dtype=np.int64)}
    for name in suite.factor_names():
        coords[f"factor_{name}"] = ("run", [str(r.factors.get(name, "")) for r in suite.runs])
    if behavior is not None:
        vec = np.array([behavior[r] for r in runs], dtype=np.float32)
        data["behavior"] = (("run", "step", "probe"),
                            np.repeat(vec[:, None, :], len(steps), 1))
        coords["probe"] = [f"probe{i}" for i in range(vec.shape[1])]
    return xr.Dataset(data, coords=coords, attrs={"suite": suite.name,
                                                  "eval_hash": token_hash(tokens)})


@pytest.fixture(scope="module")
def branched(tmp_path_factory, models):
    """Parent p; branches from k = 0 end apart (A vs P), from k = 10 identical (A vs A),
    from k = 20 nearly so (A vs A~); an lr-changed branch pairs with no one."""
    root = tmp_path_factory.mktemp("branched")
    runs = {
        "p": ({**GRID, "data_seed": 0, "seed": 0, "lr": 0.01}, {0: "A", 10: "A", 20: "A", 30: "A"}),
        "k0-d1": (branch(0, 1), {0: "A", 30: "A"}),
        "k0-d2": (branch(0, 2), {0: "A", 30: "P"}),
        "k10-d1": (branch(10, 1), {10: "A", 30: "A"}),
        "k10-d2": (branch(10, 2), {10: "A", 30: "A"}),
        "k20-d1": (branch(20, 1), {20: "A", 30: "A"}),
        "k20-d2": (branch(20, 2), {20: "A", 30: "A~"}),
        "k20-lr": (branch(20, 1, lr=0.03, intervention="lr"), {20: "A", 30: "P"}),
    }
    return build(root, runs, models)


def test_branch_pairs_follow_the_factors(branched):
    pairs = {(a.id, b.id, s) for a, b, s in branch_pairs(branched)}
    assert pairs == {("k0-d1", "k0-d2", 30), ("k10-d1", "k10-d2", 30), ("k20-d1", "k20-d2", 30)}


@pytest.fixture(scope="module")
def branched3(tmp_path_factory, models):
    """Three data orders per branch step: from k = 0 two of them end apart from the third
    (A vs P, P~), from k = 10 all three identical, from k = 20 nearly so (A, A~, A)."""
    root = tmp_path_factory.mktemp("branched3")
    ends = {0: ["A", "P", "P~"], 10: ["A", "A", "A"], 20: ["A", "A~", "A"]}
    runs = {"p": ({**GRID, "data_seed": 0, "seed": 0, "lr": 0.01}, {0: "A", 10: "A", 20: "A", 30: "A"})}
    for k, names in ends.items():
        for d, name in enumerate(names, 1):
            runs[f"k{k}-d{d}"] = (branch(k, d), {k: "A", 30: name})
    return build(root, runs, models)


def test_instability_finds_the_stability_step(branched3):
    res = instability(branched3, eval_tokens(), n_boot=200)
    s = res.summary
    assert s["stability_step"] == 10 and s["n_pairs"] == 9
    by = res.tables["by_step"].set_index("branch_step")
    assert by.loc[10, "mean_barrier"] == 0.0 and by.loc[10, "high"] == 0.0  # the same model
    assert by.loc[20, "high"] < 1e-4
    assert by.loc[0, "mean_barrier"] > 10 * s["threshold"]
    assert s["threshold"] == pytest.approx(0.02 * s["mean_endpoint_loss"])
    # k = 0: resampling branches can draw P and P~ alone (one basin), so the interval
    # reaches below the threshold: not "unstable" from two of three pairs
    assert by["decision"].tolist() == ["cannot tell", "stable", "stable"]
    assert by.loc[0, "low"] < s["threshold"] < by.loc[0, "high"]
    assert "step >= 10" in res.verdict and "step 0 cannot tell" in res.verdict
    assert res.name == "instability" and res.question == "F (instability)"
    assert set(res.figures) == {"barrier_vs_branch_step", "loss_along_alpha"}
    assert len(res.tables["paths"]) == 9 * 11
    # with a threshold above every barrier, training is stable from the first branch step
    res = instability(branched3, eval_tokens(), threshold=10.0, n_boot=20)
    assert res.summary["stability_step"] == 0 and "first tested step" in res.verdict


def test_one_pair_per_step_gives_no_interval_and_cannot_tell(branched):
    """Two branches make one pair: nothing to resample, so no step is called stable."""
    res = instability(branched, eval_tokens(), n_boot=50)
    by = res.tables["by_step"].set_index("branch_step")
    assert by["n_pairs"].tolist() == [1, 1, 1] and by["low"].isna().all()
    assert by.loc[10, "mean_barrier"] == 0.0  # the same model twice: exactly zero
    assert (by["decision"] == "cannot tell").all() and res.summary["stability_step"] is None
    assert res.verdict.startswith("This suite cannot tell")


def test_instability_without_branch_pairs_skips(tmp_path, models):
    suite = build(tmp_path, {f"s{i}": ({**GRID, "seed": i}, {30: "A"}) for i in range(2)}, models)
    with pytest.raises(Skip, match="no pair of branch runs"):
        instability(suite, eval_tokens())


@pytest.fixture(scope="module")
def families(tmp_path_factory, models):
    """Four runs in two permutation families: {A, A~} and {P, P~}."""
    root = tmp_path_factory.mktemp("families")
    runs = {rid: ({**GRID, "seed": i}, {5: name, 30: name})
            for i, (rid, name) in enumerate([("a1", "A"), ("b1", "P"), ("a2", "A~"),
                                             ("b2", "P~")])}
    return build(root, runs, models)


def test_basins_match_permutation_families_and_behaviour(families):
    beh = {"a1": [0.9, 0.1], "a2": [0.85, 0.15], "b1": [0.2, 0.8], "b2": [0.25, 0.7]}
    res = basins(families, store(families, beh), align="never")
    s = res.summary
    assert s["n_basins"] == 2 and s["step"] == 30 and s["shared_step"]
    basin = res.tables["assignments"].set_index("run")["basin"]
    assert basin["a1"] == basin["a2"] != basin["b1"] == basin["b2"]
    assert s["mean_barrier_within"] < 1e-4 < 0.1 < s["mean_barrier_between"]
    assert s["ari"] == pytest.approx(1.0)
    assert "2 linearly connected basins" in res.verdict and "adjusted Rand index 1.00" in res.verdict
    assert res.name == "basins" and res.question == "C/D (basins)"
    m = res.tables["matrix"].set_index("run")
    assert np.allclose(m.values, m.values.T) and np.all(np.diag(m.values) == 0)


def test_basins_without_behaviour_say_so(families):
    no_beh = store(families)
    res = basins(families, no_beh, step=5)
    assert res.summary["ari"] is None and res.summary["step"] == 5
    assert "no behaviour" in res.verdict
    res = basins(families, eval_tokens(), runs=["a*"])  # tokens only: no store at all
    assert res.summary["n_basins"] == 1 and res.summary["ari"] is None
    assert "one linearly connected basin" in res.verdict
    with pytest.raises(PathdepError, match="no checkpoint at step 7"):
        basins(families, no_beh, step=7)


def test_basins_fall_back_to_last_checkpoints(tmp_path, models):
    runs = {"x": ({"seed": 0}, {10: "A"}), "y": ({"seed": 1}, {20: "A~"}),
            "z": ({"seed": 2}, {30: "P"})}
    res = basins(build(tmp_path, runs, models), eval_tokens(4), align="never")
    assert not res.summary["shared_step"] and "each run's last checkpoint" in res.verdict
    assert res.summary["n_basins"] == 2


def test_aligned_basins_join_permuted_families_and_report_both_barriers(families):
    """Issue 18 item 2: P is A with permuted units (another seed here), so after alignment
    the two families are one basin; the unaligned barriers stay in the table."""
    beh = {"a1": [0.9, 0.1], "a2": [0.85, 0.15], "b1": [0.2, 0.8], "b2": [0.25, 0.7]}
    res = basins(families, store(families, beh))
    s = res.summary
    assert s["n_basins"] == 1 and s["align"] == "auto"
    pairs = res.tables["pairs"]
    assert pairs["aligned"].all()  # every pair has two different seeds
    cross = pairs[pairs["run_a"].str[0] != pairs["run_b"].str[0]]  # A family vs P family
    assert (cross["barrier_unaligned"] > 0.1).all() and (cross["barrier"] < 1e-3).all()
    c = s["cross_init"]
    assert c["pairs"] == 6 and c["connected"] == 6 and c["connected_unaligned"] == 2
    assert "permutation-aligned first (activation matching" in res.verdict
    assert "a basin holds runs of different inits" in res.verdict
    from tests.analyze.verdict_numbers import unbacked

    assert unbacked(res.verdict, res.summary, res.tables, name=res.name) == []


def on_disk(suite: Suite) -> Path:
    """Write the suite's store to <suite>/measurements.zarr (behaviour: P runs vs the rest)."""
    path = Path(suite.root) / "measurements.zarr"
    if not path.exists():
        beh = {r: ([0.2, 0.9] if r in ("k0-d2", "k20-lr") else [0.9, 0.1]) for r in suite.run_ids}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zarr: fixed-width strings are not in the v3 spec
            store(suite, beh).to_zarr(path, zarr_format=3, consolidated=False)
    return path


def test_barriers_save_beside_the_store_and_cache(branched, monkeypatch):
    root = Path(branched.root)
    on_disk(branched)
    results = barriers(root, n_boot=20, n_sequences=8)
    assert set(results) == {"instability", "basins"}
    out = root / "measurements.zarr.analysis"
    for name, res in results.items():
        back = AnalysisResult.load(out / name)
        assert back.verdict == res.verdict and back.summary["n_sequences"] == 8
    assert results["basins"].summary["n_basins"] == 2  # P (k0-d2, k20-lr) vs the rest
    assert results["basins"].summary["ari"] == pytest.approx(1.0)
    cached = list((out / CACHE_DIR).glob("*.json"))
    assert len(cached) == 8 * 7 // 2  # the 3 branch pairs are among the 28 matrix pairs
    assert json.loads(cached[0].read_text())["tokens"] == token_hash(eval_tokens(20)[:8])

    def no_loading(*a, **k):
        raise AssertionError("a rerun should read every loss path from the cache")

    monkeypatch.setattr("pathdep.lmc.cache.load_model", no_loading)
    again = barriers(root, n_boot=20, n_sequences=8, reuse=False)  # recomputed from the cache
    assert {k: r.verdict for k, r in again.items()} == {k: r.verdict for k, r in results.items()}


def test_cli(branched, tmp_path, capsys, models):
    from pathdep.analyze.cli import barriers_cmd

    on_disk(branched)
    barriers_cmd(Path(branched.root), store=None, out=tmp_path / "out", n_sequences=4,
                 n_boot=10, runs=["k0-*", "p"])
    text = capsys.readouterr().out
    assert "instability: This suite cannot tell" in text and "basins:" in text
    assert (tmp_path / "out" / "basins" / "summary.json").is_file()
    lone = build(tmp_path / "lone", {"s": ({"seed": 0}, {30: "A"})}, models)
    with pytest.raises(PathdepError, match="nothing to compare"):
        barriers_cmd(Path(lone.root), out=tmp_path / "out2")
    with pytest.raises(PathdepError, match="no measurement store"):
        barriers_cmd(Path(branched.root), store=tmp_path / "missing.zarr", out=tmp_path / "o3")


def test_basins_leave_out_runs_of_another_architecture(tmp_path, models):
    """A GPT-2 run beside four GPT-NeoX runs: no barrier exists between them (weights of two
    architectures cannot be interpolated), so basins use the GPT-NeoX runs and name it."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    g = GPT2LMHeadModel(GPT2Config(vocab_size=12, n_embd=16, n_layer=2, n_head=2, n_positions=24))
    runs = {rid: ({**GRID, "seed": i}, {30: name})
            for i, (rid, name) in enumerate([("a1", "A"), ("b1", "P"), ("a2", "A~"), ("b2", "P~"),
                                             ("g", "G")])}
    res = basins(build(tmp_path, runs, models | {"G": g}), eval_tokens(), align="never")
    assert res.summary["n_runs"] == 4 and res.summary["n_basins"] == 2
    assert res.summary["left_out"] == ["g"]
    assert "1 run(s) of another architecture or size (gpt2: g) are left out" in res.verdict
    assert set(res.tables["assignments"]["run"]) == {"a1", "b1", "a2", "b2"}
    with pytest.raises(Skip, match="of one architecture"):
        basins(build(tmp_path / "two", {k: runs[k] for k in ("a1", "g")}, models | {"G": g}),
               eval_tokens())
