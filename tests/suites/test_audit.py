"""``pathdep audit``: planted defects in fabricated hub repos, served by the Hub stand-in.

Every repo is a tiny GPT-NeoX saved with ``save_pretrained`` (safetensors) and
served by tests/hubstub.py on 127.0.0.1, so the real huggingface_hub client
reads its LFS metadata, refs and files. "Training" is a few SGD steps on random
tokens, so a trained checkpoint is near its own init, as in real runs.

    pytest tests/suites/test_audit.py
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import huggingface_hub
import pytest
import torch
from huggingface_hub import constants
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM
from typer.testing import CliRunner

from pathdep.cli import app
from pathdep.errors import PathdepError
from pathdep.suites import audit
from pathdep.suites.model import Checkpoint, Run, Suite


def init(seed: int) -> GPTNeoXForCausalLM:
    torch.manual_seed(seed)
    return GPTNeoXForCausalLM(GPTNeoXConfig(
        vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64))


def trained(model: GPTNeoXForCausalLM, seed: int, steps: int = 3) -> GPTNeoXForCausalLM:
    """A copy of ``model`` after a few SGD steps on random tokens."""
    out = copy.deepcopy(model)
    opt = torch.optim.SGD(out.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randint(0, 64, (4, 16), generator=g)
        out(x, labels=x).loss.backward()
        opt.step()
        opt.zero_grad()
    return out


class Fabric:
    """Tiny models saved once each and served as branches ``step{N}`` of hub repos."""

    def __init__(self, hub, root: Path):
        self.hub, self.root, self.n = hub, root, 0

    def serve(self, repo: str, schedule: dict[int, GPTNeoXForCausalLM]) -> None:
        for step, model in schedule.items():
            self.n += 1
            folder = self.root / f"m{self.n}"
            model.save_pretrained(folder)
            self.hub.add(repo, f"step{step}", folder)


def manifest(path: Path, runs: dict[str, tuple[str, list[int], dict]]) -> Path:
    """A suite.json of hub runs: id -> (repo, steps, factors)."""
    suite = Suite(name="fab", source="manifest", runs=[
        Run(id=rid, factors=factors,
            checkpoints=[Checkpoint(step=s, repo=repo, revision=f"step{s}") for s in steps])
        for rid, (repo, steps, factors) in runs.items()])
    path.write_text(suite.model_dump_json(indent=1))
    return path


@pytest.fixture
def planted(hub, tmp_path):
    """Runs a, b, c with one defect of each kind planted; returns the manifest."""
    fab = Fabric(hub, tmp_path / "models")
    a0, b0, c0 = init(0), init(1), init(2)
    a1000 = trained(a0, 10)
    a2000 = trained(a1000, 11)
    fab.serve("org/run-a", {0: a0, 1000: a1000, 2000: a2000})
    # b: step 1000 trained from a's init (broken lineage); step 2000 = a's (cross-run copy)
    fab.serve("org/run-b", {0: b0, 1000: trained(a0, 20), 2000: a2000})
    # c: step0 = step1 (contiguous); step 3000 served under step 1000 (not contiguous);
    # step 4000 of its schedule is not on the hub
    c_late = trained(c0, 30)
    fab.serve("org/run-c", {0: c0, 1: c0, 1000: c_late, 2000: trained(c_late, 31),
                            3000: c_late})
    return manifest(tmp_path / "suite.json", {
        "a": ("org/run-a", [0, 1000, 2000], {"seed": 0}),
        "b": ("org/run-b", [0, 1000, 2000], {"seed": 1}),
        "c": ("org/run-c", [0, 1, 1000, 2000, 3000, 4000], {"seed": 2}),
    })


@pytest.fixture
def clean(hub, tmp_path):
    fab = Fabric(hub, tmp_path / "models")
    for seed, repo in ((0, "org/clean-x"), (1, "org/clean-y")):
        m0 = init(seed)
        m1 = trained(m0, 100 + seed)
        fab.serve(repo, {0: m0, 1000: m1, 2000: trained(m1, 200 + seed)})
    return manifest(tmp_path / "clean.json", {
        "x": ("org/clean-x", [0, 1000, 2000], {"seed": 0}),
        "y": ("org/clean-y", [0, 1000, 2000], {"seed": 1}),
    })


def cache_all(hub) -> None:
    """Download every served revision into the (tmp) HF cache with the real client."""
    for repo, revs in hub.repos.items():
        for rev in revs:
            huggingface_hub.snapshot_download(repo, revision=rev)


def kinds(report) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in report.findings:
        out.setdefault(f.kind, []).append(f)
    return out


def test_planted_defects_are_found_from_hub_metadata_without_downloading(hub, planted):
    report = audit(planted)
    found = kinds(report)
    within = {(f.run, tuple(f.steps)): f.contiguous for f in found["within-run-duplicate"]}
    assert within == {("c", (0, 1)): True, ("c", (1000, 3000)): False}
    [cross] = found["cross-run-duplicate"]
    assert sorted(cross.pairs()) == [("a", 2000), ("b", 2000)]
    served = hub.repos["org/run-a"]["step2000"].files["model.safetensors"].data
    assert cross.digest == hashlib.sha256(served).hexdigest()  # the LFS oid, read as metadata
    assert [(f.run, f.steps) for f in found["missing-revision"]] == [("c", [4000])]
    assert "lineage" not in found  # weights are on the hub only: not compared ...
    assert not report.lineage["a"]["checked"] and "not cached" in report.lineage["a"]["why"]
    assert report.summary()["digest_sources"] == {"hub": 11}
    assert hub.downloads() == []  # ... and nothing was downloaded


def test_broken_lineage_is_found_from_cached_weights(hub, planted):
    cache_all(hub)
    n = len(hub.requests)
    report = audit(planted)
    [lineage] = kinds(report)["lineage"]
    assert (lineage.run, lineage.steps, lineage.others) == ("b", [1000], [{"run": "a", "steps": [0]}])
    assert report.summary()["digest_sources"] == {"cache": 11}
    assert all(report.lineage[r]["checked"] for r in "abc")
    assert report.lineage["c"]["step"] == 1000  # step 1 repeats step 0: not a trained checkpoint
    own = report.lineage["a"]["distances"]
    assert own["a"] < own["b"] and own["a"] < own["c"]
    assert all(p.endswith("/refs") for _, p in hub.requests[n:])  # only the refs were asked


def test_a_clean_suite_has_no_findings(hub, clean):
    assert audit(clean).findings == []
    cache_all(hub)
    report = audit(clean)
    assert report.findings == [] and report.summary()["clean"]
    assert report.lineage["x"]["checked"] and report.lineage["y"]["checked"]


def test_step0_shared_across_seeds_is_a_lineage_finding_unless_the_seeds_agree(hub, tmp_path):
    fab = Fabric(hub, tmp_path / "models")
    m0 = init(0)
    fab.serve("org/p", {0: m0, 1000: trained(m0, 1)})
    fab.serve("org/q", {0: m0, 1000: trained(m0, 2)})
    runs = {"p": ("org/p", [0, 1000], {"seed": 0}), "q": ("org/q", [0, 1000], {"seed": 0})}
    same = audit(manifest(tmp_path / "same.json", runs), lineage=False)
    assert same.findings == [] and "p, q" in same.notes["shared-init"]
    runs["q"] = ("org/q", [0, 1000], {"seed": 1})
    [f] = audit(manifest(tmp_path / "differ.json", runs), lineage=False).findings
    assert f.kind == "lineage" and sorted(f.pairs()) == [("p", 0), ("q", 0)]


def test_a_preset_with_steps_is_audited_against_the_hub(hub, tmp_path):
    m0 = init(0)
    fab = Fabric(hub, tmp_path / "models")
    fab.serve("EleutherAI/pythia-14m", {0: m0, 1: m0, 1000: trained(m0, 1)})  # no step2
    report = audit("pythia-14m", steps="0,1,2,1000")
    found = kinds(report)
    assert [(f.run, f.steps) for f in found["within-run-duplicate"]] == [("pythia-14m", [0, 1])]
    assert [(f.steps, f.detail) for f in found["missing-revision"]] == [
        ([2], "EleutherAI/pythia-14m has no revision 'step2'")]


def test_the_decoupled_preset_shows_pythia_203(hub, tmp_path):
    """pythia#203 re-enacted: at step1 the weight-seed runs hold the data-seed init."""
    fab = Fabric(hub, tmp_path / "models")
    d0 = init(0)
    for n in (1, 2, 3):
        fab.serve(f"EleutherAI/pythia-160m-data-seed{n}", {0: d0, 1: d0})
        w0 = init(n)
        fab.serve(f"EleutherAI/pythia-160m-weight-seed{n}", {0: w0, 1: d0 if n < 3 else w0})
    cache_all(hub)
    found = kinds(audit("polypythias-160m-decoupled", steps="0,1"))
    [cross] = found["cross-run-duplicate"]
    ws = ("pythia-160m-weight-seed1", "pythia-160m-weight-seed2")
    assert {(r, 1) for r in ws} < set(cross.pairs())
    assert sorted(f.run for f in found["lineage"]) == list(ws)


def test_a_local_suite_folder_reports_missing_checkpoint_folders(tmp_path):
    root = tmp_path / "s"
    m0 = init(0)
    for step, model in ((0, m0), (10, trained(m0, 1)), (20, m0)):
        model.save_pretrained(root / f"ck{step}")
    run = Run(id="r", factors={"seed": 0},
              checkpoints=[Checkpoint(step=s, path=f"ck{s}") for s in (0, 10, 20, 30)])
    (root / "suite.json").write_text(Suite(name="loc", runs=[run]).model_dump_json())
    report = audit(root)
    found = kinds(report)
    assert [(f.steps, f.contiguous) for f in found["within-run-duplicate"]] == [([0, 20], False)]
    assert [f.steps for f in found["missing-revision"]] == [[30]]
    assert report.summary()["digest_sources"] == {"local": 3}


def test_a_copy_across_runs_at_another_step_is_found(tmp_path):
    root = tmp_path / "s"
    p0, q0 = init(0), init(1)
    p10 = trained(p0, 1)
    for name, model in (("p0", p0), ("p10", p10), ("q0", q0), ("q20", p10)):
        model.save_pretrained(root / name)
    runs = [Run(id="p", factors={"seed": 0}, checkpoints=[Checkpoint(step=s, path=f"p{s}")
                                                         for s in (0, 10)]),
            Run(id="q", factors={"seed": 1}, checkpoints=[Checkpoint(step=s, path=f"q{s}")
                                                         for s in (0, 20)])]
    (root / "suite.json").write_text(Suite(name="x", runs=runs).model_dump_json())
    found = kinds(audit(root))
    [f] = found["cross-run-duplicate"]
    assert sorted(f.pairs()) == [("p", 10), ("q", 20)]
    [lin] = found["lineage"]  # q's step 20 is p's step 10: it descends from p's init
    assert (lin.run, lin.steps) == ("q", [20])


def test_a_branch_copying_its_parent_at_the_branch_step_is_no_finding(tmp_path):
    root = tmp_path / "s"
    p0 = init(0)
    p10 = trained(p0, 1)
    p20 = trained(p10, 2)
    for name, model in (("p0", p0), ("p10", p10), ("p20", p20), ("b10", p10),
                        ("b20", trained(p10, 3)), ("q10", p10), ("r20", p20)):
        model.save_pretrained(root / name)
    runs = [Run(id="p", factors={"seed": 0, "parent": "", "branch_step": -1},
                checkpoints=[Checkpoint(step=s, path=f"p{s}") for s in (0, 10, 20)]),
            Run(id="b", factors={"seed": 0, "parent": "p", "branch_step": 10},
                checkpoints=[Checkpoint(step=s, path=f"b{s}") for s in (10, 20)])]
    (root / "suite.json").write_text(Suite(name="br", runs=runs).model_dump_json())
    assert audit(root).findings == []
    runs[1].checkpoints[1].path = "r20"  # a branch that replays its parent (changes nothing)
    (root / "suite.json").write_text(Suite(name="br", runs=runs).model_dump_json())
    report = audit(root)
    assert report.findings == [] and "b repeats its parent p at steps [20]" in report.notes[
        "branch-replay"]
    runs.append(Run(id="q", factors={"seed": 1}, checkpoints=[Checkpoint(step=10, path="q10")]))
    (root / "suite.json").write_text(Suite(name="br", runs=runs).model_dump_json())
    [f] = audit(root).findings  # an unrelated run holding the same weights is one
    assert f.kind == "cross-run-duplicate" and sorted(f.pairs()) == [("p", 10), ("q", 10)]


def test_cli_writes_the_json_report_and_exits_0(hub, planted, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich's width: a table row on one line
    out = tmp_path / "audit.json"
    res = CliRunner().invoke(app, ["audit", str(planted), "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "within-run-duplicate" in res.output and "lineage not checked for a" in res.output
    assert "[pythia#205]" in res.output  # the non-contiguous copy names its known defect
    data = json.loads(out.read_text())
    assert data["summary"]["findings"] == {"within-run-duplicate": 2, "cross-run-duplicate": 1,
                                           "lineage": 0, "missing-revision": 1}
    assert {f["kind"] for f in data["findings"]} == {"within-run-duplicate", "cross-run-duplicate",
                                                     "missing-revision"}
    assert all({"kind", "run", "steps", "digest"} <= set(f) for f in data["findings"])
    assert data["digests"]["a"]["2000"] == data["digests"]["b"]["2000"]


def test_a_missing_repo_exits_2_naming_it_and_writes_nothing(hub, planted, tmp_path):
    suite = json.loads(planted.read_text())
    suite["runs"][1]["checkpoints"][0]["repo"] = "org/no-such-repo"
    planted.write_text(json.dumps(suite))
    out = tmp_path / "audit.json"
    res = CliRunner().invoke(app, ["audit", str(planted), "--json", str(out)])
    assert res.exit_code == 2
    assert "org/no-such-repo does not exist" in res.output
    assert not out.exists()


def test_offline_with_nothing_cached_is_a_clear_error(hub, planted, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PathdepError, match="not in the local Hugging Face cache and HF_HUB_OFFLINE"):
        audit(planted)
    res = CliRunner().invoke(app, ["audit", str(planted)])
    assert res.exit_code == 2 and "hf download org/run-a --revision step0" in res.output
    assert hub.requests == []
