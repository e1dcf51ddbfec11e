"""Branches: runs that continue another run from a step with something changed."""

import dataclasses
import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from pathdep.errors import PathdepError
from pathdep.train import expand_grid, train
from pathdep.train.loop import branch_state_file, ckpt_dir, lr_at


def _w(out, run, step):
    return load_file(str(ckpt_dir(out, run, step) / "model.safetensors"))


def _same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _side(out, run, step):
    return json.loads((ckpt_dir(out, run, step) / "pathdep.json").read_text())


BRANCH = {"name": "b", "parent": "seed0-data0", "at": [8], "data_seed": [0, 1]}


def test_branch_ids_factors_and_schedule(tiny_spec):
    spec = tiny_spec(grid={"seed": [0], "data_seed": [0]},
                     branches=[BRANCH | {"at": [3, 8], "lr": [1e-3]}])
    plans = {p.id: p for p in expand_grid(spec)}
    assert set(plans) == {"seed0-data0", "b-at3-data0-lr0.001", "b-at3-data1-lr0.001",
                          "b-at8-data0-lr0.001", "b-at8-data1-lr0.001"}
    root, br = plans["seed0-data0"], plans["b-at8-data1-lr0.001"]
    assert root.factors == {"seed": 0, "data_seed": 0, "parent": "", "branch_step": -1,
                            "lr": 3e-3}
    assert br.factors == {"seed": 0, "data_seed": 1, "parent": "seed0-data0", "branch_step": 8,
                          "lr": 1e-3}
    assert root.branch_states == [3, 8]
    # the schedule counts from the branch step, which is its first checkpoint
    assert br.checkpoint_steps()[0] == 8 and br.checkpoint_steps()[-1] == 24
    assert br.train.lr == 1e-3 and br.train.steps == 24


def test_branch_that_changes_nothing_reproduces_its_parent(tmp_path, tiny_spec):
    out = tmp_path / "s"
    spec = tiny_spec(grid={"seed": [0], "data_seed": [0]}, branches=[BRANCH])
    suite = train(spec, out)
    assert suite.run("b-at8-data0").steps[0] == 8
    # same weights, optimizer state, RNG and data position: bit-identical at the end
    assert _same(_w(out, "b-at8-data0", 24), _w(out, "seed0-data0", 24))
    # a different data-order seed from step 8 on gives a different model
    assert not _same(_w(out, "b-at8-data1", 24), _w(out, "seed0-data0", 24))
    side = _side(out, "b-at8-data1", 24)
    assert side["factors"]["parent"] == "seed0-data0" and side["factors"]["branch_step"] == 8
    assert branch_state_file(out, "seed0-data0", 8).is_file()


def test_branch_added_after_the_parent_finished_replays_it(tmp_path, tiny_spec):
    out = tmp_path / "s"
    train(tiny_spec(grid={"seed": [0], "data_seed": [0]}), out)
    assert not branch_state_file(out, "seed0-data0", 8).exists()
    # adding branches keeps the suite (same digest); the parent is replayed to step 8
    train(tiny_spec(grid={"seed": [0], "data_seed": [0]}, branches=[BRANCH]), out)
    assert branch_state_file(out, "seed0-data0", 8).is_file()
    assert _same(_w(out, "b-at8-data0", 24), _w(out, "seed0-data0", 24))


def test_branch_intervention_counts_from_the_branch_step(tmp_path, tiny_spec):
    out = tmp_path / "s"
    spec = tiny_spec(
        grid={"seed": [0], "data_seed": [0]},
        interventions=[{"name": "burst", "docs": ["s1 s1 s1 s1"], "start": 1, "end": 3},
                       {"name": "hot", "lr_scale": 5.0, "start": 1, "end": 2}],
        branches=[{"name": "iv", "parent": "seed0-data0", "at": [8],
                   "intervention": ["none", "burst", "hot"]}])
    plans = {p.id: p for p in expand_grid(spec)}
    assert plans["seed0-data0"].interventions == []  # named by a branch: not applied to the grid
    hot = plans["iv-at8-hot"]
    assert lr_at(8, hot) == pytest.approx(5 * lr_at(8, plans["iv-at8-none"]))  # update 9
    assert lr_at(11, hot) == pytest.approx(lr_at(11, plans["iv-at8-none"]))
    train(spec, out)
    assert _side(out, "iv-at8-burst", 24)["seen"] == {"burst:0": [9, 10, 11]}
    assert _same(_w(out, "iv-at8-none", 24), _w(out, "seed0-data0", 24))
    assert not _same(_w(out, "iv-at8-hot", 24), _w(out, "seed0-data0", 24))



def test_planning_branches_leaves_the_grid_plans_it_is_given_unchanged(tiny_spec):
    import copy

    from pathdep.train.branches import plan_branches

    spec = tiny_spec(grid={"seed": [0], "data_seed": [0]},
                     branches=[BRANCH, {"name": "c", "parent": "b-at8-data1", "at": [12]}])
    grid = [p for p in expand_grid(spec) if p.parent is None]
    bare = [dataclasses.replace(p, factors={"seed": 0, "data_seed": 0}, branch_states=[])
            for p in grid]
    before = copy.deepcopy(bare)
    plans = {p.id: p for p in plan_branches(spec, bare)}
    assert bare == before  # a planner, not a mutator
    assert plans["seed0-data0"].branch_states == [8]
    assert plans["b-at8-data1"].branch_states == [12]  # a branch of a branch
    assert plans["c-at12"].parent == "b-at8-data1" and plans["c-at12"].branch_states == []

def test_branch_of_a_branch_and_bad_branches(tmp_path, tiny_spec):
    spec = tiny_spec(grid={"seed": [0], "data_seed": [0]},
                     branches=[BRANCH, {"name": "c", "parent": "b-at8-data1", "at": [16],
                                        "data_seed": [2], "steps": 4}])
    plans = {p.id: p for p in expand_grid(spec)}
    c = plans["c-at16-data2"]
    assert c.parent == "b-at8-data1" and c.last_step == 20 and c.checkpoint_steps()[-1] == 20
    train(spec, tmp_path / "s", runs=["c-at16-data2"])  # its ancestors are replayed, not saved
    assert (ckpt_dir(tmp_path / "s", "c-at16-data2", 20) / "pathdep.json").is_file()
    assert not ckpt_dir(tmp_path / "s", "seed0-data0", 24).exists()
    with pytest.raises(PathdepError, match="not a run of this suite"):
        expand_grid(tiny_spec(branches=[BRANCH | {"parent": "nope"}]))
    with pytest.raises(PathdepError, match="not a step of seed0-data0"):
        expand_grid(tiny_spec(branches=[BRANCH | {"at": [24]}]))
    with pytest.raises(PathdepError, match="past train.steps"):
        expand_grid(tiny_spec(branches=[BRANCH | {"steps": 100}]))


def test_counterfactual_intervention_states_other_values(tmp_path, tiny_spec):
    from pathdep.data.counterfactual import counterfactual_docs, counterfactual_facts

    world = {"generator": "world", "n_docs": 60, "n_eval_docs": 10, "n_entities": 8,
             "min_words": 20, "max_words": 40}
    spec = tiny_spec(data=world, tokenizer={"vocab_size": 300},
                     grid={"seed": [0], "data_seed": [0]},
                     interventions=[{"name": "cf", "source": "counterfactual", "n_facts": 2,
                                     "start": 1, "end": 2},
                                    {"name": "br", "source": "behavior", "behavior": "brackets",
                                     "start": 1, "end": 3, "rows": 2}],
                     branches=[{"name": "x", "parent": "seed0-data0", "at": [4],
                                "intervention": ["cf"], "steps": 4}])
    out = tmp_path / "s"
    train(spec, out)
    info = json.loads((out / "data" / "info.json").read_text())
    cfs = counterfactual_facts(info, None, 2)
    assert len(cfs) == 2 and all(c["counter"] != c["value"] for c in cfs)
    truth = {(f["entity"], f["attribute"]): f["value"] for f in info["facts"]}
    assert all(truth[(c["entity"], c["attribute"])] == c["value"] for c in cfs)
    docs = counterfactual_docs(info, None, 2)
    assert all(f" {c['counter']}." in d for c, (_, d) in zip(cfs, docs, strict=True))
    seen = _side(out, "x-at4-cf", 8)["seen"]
    assert seen["cf:" + cfs[0]["entity"] + ":" + cfs[0]["attribute"]] == [5]
    with pytest.raises(PathdepError, match="outside the world"):
        counterfactual_facts(info, [10_000], 2)
    # the measurement follows them with the probe iv:cf (counterfactual vs true value)
    from pathdep.data import generate
    from pathdep.probes.world import intervention_probes

    # a burst of one behaviour's documents (grid runs get it: no branch names it)
    burst = json.loads((out / "data" / "injected.json").read_text())["br"]
    assert burst and all(any(b in text for b in "([{") for _, text in burst)
    seen = json.loads((ckpt_dir(out, "seed0-data0", 24) / "pathdep.json").read_text())["seen"]
    assert sorted(k for k in seen if k.startswith("br:")) == sorted(i for i, _ in burst[:6])
    probes = intervention_probes(generate(spec.data, "eval"), spec.model_dump(mode="json"))
    assert [p.name for p in probes] == ["iv:cf", "iv:br"]
    probe = probes[0]
    assert probe.name == "iv:cf" and len(probe.items) == sum(len(c["prompts"]) for c in cfs)
    first = probe.items[0]
    assert first.prompt == cfs[0]["prompts"][0]
    assert first.correct == (" " + cfs[0]["counter"],) and first.incorrect == (" " + cfs[0]["value"],)


def test_branches_added_after_measuring_grow_the_store(tmp_path, tiny_spec):
    from pathdep.measure import measure
    from pathdep.store import open_store

    out, store = tmp_path / "s", tmp_path / "m.zarr"
    opts = {"eval_sequences": 4, "dist_positions": 8, "hidden_positions": 4, "head_examples": 2}
    first = measure(train(tiny_spec(grid={"seed": [0], "data_seed": [0]}, measure=opts), out),
                    out=store)
    old = open_store(store)
    old_steps, before = old.step.values.tolist(), old.logprob.sel(run="seed0-data0").values.copy()
    spec = tiny_spec(grid={"seed": [0], "data_seed": [0]}, measure=opts,
                     branches=[BRANCH | {"checkpoints": [5]}])
    again = measure(train(spec, out), out=store)
    # only the branches' checkpoints are measured; the parent's jobs are kept as they were
    assert sorted(again.measured) == [("b-at8-data0", 8), ("b-at8-data0", 13),
                                      ("b-at8-data0", 24), ("b-at8-data1", 8),
                                      ("b-at8-data1", 13), ("b-at8-data1", 24)]
    assert len(again.skipped) == len(first.measured)
    ds = open_store(store)
    assert list(ds.run.values) == ["seed0-data0", "b-at8-data0", "b-at8-data1"]
    np.testing.assert_array_equal(ds.logprob.sel(run="seed0-data0", step=old_steps).values,
                                  before)
    assert bool(ds.done.sel(run="seed0-data0", step=old_steps).all())
    assert ds["factor_branch_step"].values.tolist() == [-1, 8, 8]
    # the branch that changes nothing measures like its parent at the shared last step
    np.testing.assert_allclose(ds.logprob.sel(run="b-at8-data0", step=24),
                               ds.logprob.sel(run="seed0-data0", step=24))
