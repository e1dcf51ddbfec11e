import json

import pytest

from pathdep.analysis.result import AnalysisResult
from pathdep.prompts import forking_tokens
from pathdep.prompts.models import LM
from pathdep.suites import Checkpoint, Run, Suite
from tests.analyze.verdict_numbers import unbacked
from tests.prompts.planted import Planted, decode, encode


def _suite(n_runs=2):
    runs = [Run(id=f"r{i}", checkpoints=[Checkpoint(step=s, path="/none") for s in (1, 8)])
            for i in range(n_runs)]
    return Suite(name="planted", runs=runs)


def _loader(k=4):
    return lambda run, ckpt: LM(Planted(k=k), encode, decode, None, "planted")


def test_forking_tokens_suite_result_saved_and_cached(tmp_path):
    res = forking_tokens(_suite(), ["?"], extractor="re:([12])", loader=_loader(), out=tmp_path,
                         n=20, max_new=10, n_boot=50)
    assert set(res.tables["forks"]["index"]) == {4}
    assert res.summary["frac_prompts_with_fork"].value == 1.0
    assert res.summary["between_run_overlap"].value == 1.0
    assert "forking token" in res.verdict
    saved = AnalysisResult.load(tmp_path / "forking_tokens")
    assert json.loads((tmp_path / "forking_tokens" / "summary.json").read_text())["name"] == \
        "forking_tokens"
    assert list(saved.tables["survival"]["survival"])[:5] == [1.0] * 5

    def boom(run, ckpt):
        m = Planted()
        m.forward = None  # any sampling now fails: the rerun must come from the cache
        return LM(m, encode, decode, None, "planted")

    again = forking_tokens(_suite(), ["?"], extractor="re:([12])", loader=boom, out=tmp_path,
                           n=20, max_new=10, n_boot=50)
    assert again.tables["forks"].equals(res.tables["forks"])


def test_bad_step_names_available_steps():
    from pathdep.errors import PathdepError

    with pytest.raises(PathdepError, match="steps available"):
        forking_tokens(_suite(), ["?"], step=3, loader=_loader())


def test_results_land_in_the_report(tmp_path):
    from pathdep.report.build import report, summary_path

    store = tmp_path / "s.zarr"
    forking_tokens(_suite(), ["?"], extractor="re:([12])", loader=_loader(), store=store,
                   n=6, max_new=10, n_boot=20)
    page = report(store)
    html = page.read_text()
    assert "forking" in html.lower()
    summary = json.loads(summary_path(page).read_text())
    assert "forking_tokens" in json.dumps(summary)
    assert (tmp_path / "s.zarr.analysis" / ".cache" / "forking").is_dir()


def _planted_pair(ks):
    return lambda run, ckpt: LM(Planted(k=ks[int(run.id[1:])]), encode, decode, None, "planted")


@pytest.mark.parametrize(("ks", "differ"), [((4, 7), True), ((4, 4), False)])
def test_two_different_runs_are_told_apart_and_copies_are_not(ks, differ):
    """Runs planted to fork at indices 4 and 7 (on run 0's base path) differ; two copies do not."""
    res = forking_tokens(_suite(), ["?"] * 6, extractor="re:([12])", loader=_planted_pair(ks),
                         n=20, max_new=10, n_boot=50)
    s = res.summary
    assert s["runs_fork_differently"] is differ
    assert ("Runs fork at different tokens" in res.verdict) is differ
    if not differ:
        assert s["between_run_overlap"].value == s["split_half_overlap"].value
    assert not unbacked(res.verdict, res.summary, res.tables)


def test_one_prompt_cannot_tell():
    """2 runs x 1 prompt: even runs sharing no fork give permutation p = 0.5, so no absence."""
    res = forking_tokens(_suite(), ["?"], extractor="re:([12])", loader=_planted_pair((4, 7)),
                         n=20, max_new=10, n_boot=50)
    assert res.summary["p_value_if_disjoint"] >= 0.05
    assert "cannot tell" in res.verdict and not res.summary["runs_fork_differently"]
