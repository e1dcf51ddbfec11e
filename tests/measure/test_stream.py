"""Streaming hub checkpoints (issue 17 item 3): prefetch order, the cache budget, deletion.

The cache is a real Hugging Face cache layout in tmp (tests/suites/test_hub.py), read
offline by the real client; "downloading" puts a checkpoint into it, as the hub would.
"""

from __future__ import annotations

import threading
import time

import pytest

from pathdep.errors import PathdepError
from pathdep.measure import stream
from pathdep.suites.model import Checkpoint, Run, Suite
from tests.suites.test_hub import cache_model, hub_cache, neox  # noqa: F401 (fixture)

REPO = "org/tiny"


def _ckpts(n: int) -> list[Checkpoint]:
    return [Checkpoint(step=10 * i, repo=REPO, revision=f"step{10 * i}") for i in range(n)]


def test_prefetch_fetches_in_job_order_and_at_most_ahead_of_the_job():
    ckpts = _ckpts(6)
    log, current = [], {"job": -1}
    lock = threading.Lock()

    def fetch(c):
        with lock:
            log.append((ckpts.index(c), current["job"]))
        time.sleep(0.01)

    with stream.Prefetcher(ckpts, ahead=2, fetch=fetch) as pf:
        for i in range(len(ckpts)):
            pf.wait(i)
            with lock:
                current["job"] = i
                assert i in [f for f, _ in log]  # its checkpoint was fetched before it ran
            time.sleep(0.03)  # measuring
            pf.done(i)
    assert [f for f, _ in log] == list(range(6))
    # fetch i starts only while job i - 2 or later is the one being measured
    assert all(f - max(job, 0) <= 2 for f, job in log)


def test_the_budget_holds_back_downloads_and_a_too_small_budget_fails_first():
    ckpts = _ckpts(4)
    held, peak = [], [0]

    def fetch(c):
        held.append(c)
        peak[0] = max(peak[0], len(held))

    with stream.Prefetcher(ckpts, ahead=3, budget=25, fetch=fetch, size=lambda c: 10) as pf:
        for i in range(4):
            pf.wait(i)
            time.sleep(0.02)
            held.remove(ckpts[i])
            pf.done(i)
    assert peak[0] == 2  # 2 x 10 bytes fit in 25, a third would not, whatever `ahead` says
    with pytest.raises(PathdepError, match="--cache-budget .* smaller than one checkpoint"):
        stream.check_budget(ckpts, 5, lambda c: 10)
    stream.check_budget(ckpts, 10, lambda c: 10)


def _hub_suite(tmp_path, steps) -> Suite:
    from pathdep.data.markov import tokenizer_for

    tok = tokenizer_for(10)
    tok.save_pretrained(tmp_path / "tok")
    cks = [Checkpoint(step=s, repo=REPO, revision=f"step{s}") for s in steps]
    return Suite(name="hubtiny", runs=[Run(id="r", checkpoints=cks, tokenizer=str(tmp_path / "tok"))],
                 meta={"spec": {"name": "hubtiny", "data": {"generator": "markov-mixture", "k": 10,
                                                           "seq_len": 64, "n_eval_docs": 40},
                                "model": {"context": 32}, "train": {"steps": 10},
                                "measure": {"eval_sequences": 4, "dist_positions": 4,
                                            "hidden_positions": 4, "head_examples": 2,
                                            "check_duplicates": False}}})


def test_measure_streams_and_removes_what_it_downloaded_only(hub_cache, tmp_path, monkeypatch):  # noqa: F811
    from huggingface_hub import scan_cache_dir

    from pathdep.measure import api, measure
    from pathdep.store import open_store

    cache_model(hub_cache, REPO, "step0", neox(0))  # the user's: cached before the call
    fetched = []

    def fake_download(ckpt, allow_pickle=False):  # "the hub": writes the revision into the cache
        fetched.append(ckpt.step)
        cache_model(hub_cache, REPO, ckpt.revision, neox(ckpt.step))

    monkeypatch.setattr(api, "download", fake_download)
    suite = _hub_suite(tmp_path, [0, 10, 20])
    result = measure(suite, out=tmp_path / "m.zarr")
    assert result.ok and sorted(result.measured) == [("r", 0), ("r", 10), ("r", 20)]
    assert fetched == [10, 20]  # the cached step 0 was not fetched
    left = {ref for repo in scan_cache_dir(hub_cache).repos for rev in repo.revisions
            for ref in rev.refs}
    assert left == {"step0"}  # downloads removed once stored; the user's revision kept
    assert bool(open_store(tmp_path / "m.zarr")["done"].all())
    # a rerun fetches nothing: stored jobs are skipped before any download
    again = measure(suite, out=tmp_path / "m.zarr")
    assert again.measured == [] and fetched == [10, 20]


def test_keep_cache_keeps_downloads(hub_cache, tmp_path, monkeypatch):  # noqa: F811
    from huggingface_hub import scan_cache_dir

    from pathdep.measure import api, measure

    cache_model(hub_cache, REPO, "step0", neox(0))  # the layout reads a config
    monkeypatch.setattr(api, "download", lambda c, allow_pickle=False: cache_model(
        hub_cache, REPO, c.revision, neox(c.step)))
    r = measure(_hub_suite(tmp_path, [0, 10]), out=tmp_path / "m.zarr", keep_cache=True)
    assert r.ok, r.failed
    left = {ref for repo in scan_cache_dir(hub_cache).repos for rev in repo.revisions
            for ref in rev.refs}
    assert left == {"step0", "step10"}


def test_bad_streaming_options_are_named(hub_cache, tmp_path):  # noqa: F811
    from pathdep.measure import measure

    for kw, msg in (({"cache_budget": 0}, "--cache-budget 0"), ({"prefetch": -1}, "--prefetch")):
        with pytest.raises(PathdepError, match=msg):
            measure(_hub_suite(tmp_path, [0]), out=tmp_path / "m.zarr", **kw)
    assert not (tmp_path / "m.zarr").exists()
