"""Streaming hub checkpoints: download the next while this one is measured, delete after.

Measuring a public suite (Pythia: 154 checkpoints a run; the CRFM GPT-2 runs:
609) would otherwise wait for each download in turn and fill the Hugging Face
cache with every revision (TransformerLens#108: 600 GPT-2-medium checkpoints).
So:

- :class:`Prefetcher` (the in-process executor) downloads the checkpoints of
  the coming jobs in a background thread, at most ``ahead`` jobs ahead of the
  one being measured, and within ``budget`` bytes of cache (the one being
  measured included); a download that fails is left for the job's own load,
  which names the problem.
- A job whose checkpoint was not in the cache when the measure call began
  deletes that revision from the cache once its values are stored
  (``MeasureJob.fetch``), unless ``--keep-cache``; revisions that were
  cached before are the user's and stay. On Ray each worker downloads its own
  checkpoint and deletes it the same way.
- Jobs already stored are skipped before anything is downloaded, so a killed
  run resumes without fetching them again.

Sizes come from the hub's file metadata (no download); the weights files are
what is fetched: ``*.json``, ``*.safetensors`` (``*.bin`` only with
``allow_pickle``), and tokenizer files.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from pathdep.errors import PathdepError
from pathdep.suites.model import Checkpoint

log = logging.getLogger(__name__)

PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken"]


def patterns(allow_pickle: bool) -> list[str]:
    return PATTERNS + (["*.bin"] if allow_pickle else [])


def is_cached(ckpt: Checkpoint) -> bool:
    """True when repo@revision's config is in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(ckpt.repo, "config.json", revision=ckpt.revision)
    return isinstance(found, str)


def download(ckpt: Checkpoint, allow_pickle: bool = False) -> None:
    """Fetch repo@revision's model files into the Hugging Face cache."""
    from huggingface_hub import snapshot_download

    snapshot_download(ckpt.repo, revision=ckpt.revision, allow_patterns=patterns(allow_pickle))


def checkpoint_bytes(ckpt: Checkpoint, allow_pickle: bool = False) -> int | None:
    """Bytes of the files :func:`download` fetches, from the hub's metadata; None offline."""
    import fnmatch

    import huggingface_hub

    from pathdep._hf import offline

    if offline():
        return None
    try:
        info = huggingface_hub.HfApi().model_info(ckpt.repo, revision=ckpt.revision,
                                                  files_metadata=True)
    except Exception as e:  # missing repo or revision, network: named here
        raise PathdepError(f"cannot read the file list of {ckpt.repo} revision {ckpt.revision}: "
                           f"{e}; check the name, or set HF_HUB_OFFLINE=1 to use the cache") from e
    keep = patterns(allow_pickle)
    return sum(s.size or 0 for s in info.siblings or []
               if any(fnmatch.fnmatchcase(s.rfilename, p) for p in keep))


def delete_cached(ckpt: Checkpoint) -> int:
    """Remove repo@revision from the Hugging Face cache; return the bytes freed."""
    from huggingface_hub import constants, scan_cache_dir

    # the cache the downloads use, read now: scan_cache_dir's own default is fixed at import
    info = scan_cache_dir(constants.HF_HUB_CACHE)
    hashes = [rev.commit_hash for repo in info.repos if repo.repo_id == ckpt.repo
              and repo.repo_type == "model" for rev in repo.revisions
              if ckpt.revision in rev.refs or rev.commit_hash == ckpt.revision]
    if not hashes:
        return 0
    strategy = info.delete_revisions(*hashes)
    strategy.execute()
    log.info("removed %s@%s from the Hugging Face cache (%.1f MB)", ckpt.repo, ckpt.revision,
             strategy.expected_freed_size / 1e6)
    return strategy.expected_freed_size


@dataclass
class Prefetcher:
    """Download the checkpoints of ``ckpts`` (in job order) ahead of their jobs.

    ``wait(i)`` blocks until checkpoint ``i`` is fetched (or its download
    failed); ``done(i)`` tells that job ``i`` finished, which frees its place
    ahead and its bytes of the budget. ``fetch`` and ``size`` are the download
    and metadata functions (tests pass stand-ins).
    """

    ckpts: list[Checkpoint | None]  # None: nothing to fetch for that job (local, cached)
    ahead: int = 1
    budget: int | None = None  # bytes of cache the fetched, unfinished checkpoints may hold
    fetch: Callable[[Checkpoint], None] = download
    size: Callable[[Checkpoint], int | None] = lambda c: None
    _cv: threading.Condition = field(default_factory=threading.Condition)
    _fetched: set = field(default_factory=set)
    _finished: set = field(default_factory=set)
    _held: dict = field(default_factory=dict)  # job -> bytes, fetched and not yet finished
    _stop: bool = False

    def __post_init__(self):
        self._thread = threading.Thread(target=self._loop, name="pathdep-prefetch", daemon=True)

    def __enter__(self) -> Prefetcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout=5)

    def _room(self, i: int, nbytes: int) -> bool:
        current = min((j for j in range(len(self.ckpts)) if j not in self._finished),
                      default=len(self.ckpts))
        if i > current + self.ahead:
            return False
        held = sum(self._held.values())
        return self.budget is None or not self._held or held + nbytes <= self.budget

    def _loop(self) -> None:
        for i, ckpt in enumerate(self.ckpts):
            if ckpt is None:
                with self._cv:
                    self._fetched.add(i)
                    self._cv.notify_all()
                continue
            nbytes = self.size(ckpt) or 0
            with self._cv:
                self._cv.wait_for(lambda i=i, n=nbytes: self._stop or self._room(i, n))
                if self._stop:
                    return
                self._held[i] = nbytes
            try:
                self.fetch(ckpt)
            except Exception as e:  # the job's own load reports it, with the fix
                log.debug("prefetch of %s@%s failed: %s", ckpt.repo, ckpt.revision, e)
            with self._cv:
                self._fetched.add(i)
                self._cv.notify_all()

    def wait(self, i: int) -> None:
        with self._cv:
            self._cv.wait_for(lambda: i in self._fetched or not self._thread.is_alive())

    def done(self, i: int) -> None:
        with self._cv:
            self._finished.add(i)
            self._held.pop(i, None)
            self._cv.notify_all()


def check_budget(ckpts: list[Checkpoint], budget: int | None, size) -> None:
    """A cache budget smaller than one checkpoint can never be met: say so before any job."""
    if budget is None or not ckpts:
        return
    ckpt = max(ckpts, key=lambda c: c.step)  # the latest: as large as any (same shapes)
    n = size(ckpt)
    if n is not None and n > budget:
        raise PathdepError(f"--cache-budget {budget / 1e9:g} GB is smaller than one "
                           f"checkpoint ({ckpt.repo}@{ckpt.revision}: {n / 1e9:.2f} GB); "
                           "raise it or leave it out")


class Streamed:
    """``run_job`` for the in-process executor: waits for its checkpoint, then frees its place."""

    def __init__(self, fn, prefetcher: Prefetcher, keys: list):
        self.fn, self.pf, self.index = fn, prefetcher, {k: i for i, k in enumerate(keys)}

    def __call__(self, job):
        i = self.index[(job.run.id, job.step)]
        self.pf.wait(i)
        try:
            return self.fn(job)
        finally:
            self.pf.done(i)
