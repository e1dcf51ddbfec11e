"""Find checkpoints of a run that hold bit-identical weights, and drop them.

Public suites have such defects: Pythia's step0 = step1 (= step2) (pythia#83,
#198), and pythia-2.8b serves the final weights under 76 earlier step branches
(pythia#205). A duplicate looks like a flat stretch of training and would bias
every measurement over steps, so check before measuring:

    suite, report = drop_duplicates(load_suite("pythia-70m", steps="0:1000"))

A digest is the sha256 of the weights file (for a sharded checkpoint, the
sha256 of its shards' names and hashes), i.e. the Git LFS sha256 of a single
file. Hub checkpoints are read from the local Hugging Face cache first; when
online and not cached, the LFS sha256 from the hub's file metadata avoids a
download.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import NamedTuple

from pathdep import progress
from pathdep._hf import offline
from pathdep.errors import PathdepError
from pathdep.suites.model import Checkpoint, Run, Suite

log = logging.getLogger(__name__)

# (file glob, index file); pickles are only hashed here, never loaded
_WEIGHTS = (
    ("model*.safetensors", "model.safetensors.index.json"),
    ("pytorch_model*.bin", "pytorch_model.bin.index.json"),
)
_SHA256 = re.compile(r"[0-9a-f]{64}")


class DuplicateGroup(NamedTuple):
    """Steps of one run whose weights are bit-identical, sorted."""

    run: str
    steps: list[int]


def _file_sha256(path: Path) -> str:
    blob = path.resolve()
    if _SHA256.fullmatch(blob.name):  # hub cache blobs of LFS files are named by their sha256
        return blob.name
    h = hashlib.sha256()
    with open(blob, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _combine(shas: dict[str, str]) -> str:
    """One file -> its sha256 (= its LFS oid); shards -> sha256 over 'name sha' lines."""
    if len(shas) == 1:
        return next(iter(shas.values()))
    lines = "".join(f"{name} {sha}\n" for name, sha in sorted(shas.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def _weight_files(folder: Path) -> list[Path]:
    """The weights of a folder: safetensors if any, else pickles; all shards present."""
    for pattern, index_name in _WEIGHTS:
        files = sorted(folder.glob(pattern))
        if not files:
            continue
        index = folder / index_name
        if index.is_file():
            shards = set(json.loads(index.read_text()).get("weight_map", {}).values())
            if not all((folder / s).is_file() for s in shards):
                return []
        return files
    return []


def _local_digest(folder: Path) -> str:
    files = _weight_files(folder)
    if not files:
        raise PathdepError(
            f"checkpoint {folder} has no complete weights file (model.safetensors); "
            "re-run training for it or narrow the suite with --steps"
        )
    return _combine({f.name: _file_sha256(f) for f in files})


def cached_folder(ckpt: Checkpoint) -> Path | None:
    """The local Hugging Face cache's snapshot of repo@revision, or None when not cached."""
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(huggingface_hub.snapshot_download(
            ckpt.repo, revision=ckpt.revision, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None


def _cached_digest(ckpt: Checkpoint) -> str | None:
    """Digest from the local hub cache, or None when repo@revision is not cached."""
    folder = cached_folder(ckpt)
    files = _weight_files(folder) if folder is not None else []
    return _combine({f.name: _file_sha256(f) for f in files}) if files else None


class MissingOnHub(PathdepError):
    """The hub has no such repo or revision: bad input, not a transient failure."""


def hub_error(e: Exception, repo: str, revision: str | None = None) -> str:
    """One message for a failed hub call: what is missing and how to fix it."""
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    if isinstance(e, RevisionNotFoundError):  # a subclass of neither; check it first
        return (f"hub repo {repo} has no revision {revision!r}; leave this checkpoint out "
                "(--steps) or fix the revision in the suite manifest")
    if isinstance(e, RepositoryNotFoundError):
        return (f"hub repo {repo} does not exist (or is private): check the repo id in the "
                "suite, or log in (hf auth login) if it is private")
    where = f"{repo} revision {revision}" if revision else repo
    return (f"cannot read {where} from the hub: {e}; check the connection, or set "
            "HF_HUB_OFFLINE=1 to use only checkpoints in the local cache")


def _hub_exception(e: Exception, repo: str, revision: str | None = None) -> PathdepError:
    """:class:`MissingOnHub` for a missing repo or revision, else :class:`PathdepError`."""
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    missing = isinstance(e, RepositoryNotFoundError | RevisionNotFoundError)
    return (MissingOnHub if missing else PathdepError)(hub_error(e, repo, revision))


def _remote_digest(ckpt: Checkpoint) -> str:
    """Digest from the hub's LFS metadata: no weights are downloaded."""
    import huggingface_hub

    try:
        info = huggingface_hub.HfApi().model_info(
            ckpt.repo, revision=ckpt.revision, files_metadata=True
        )
    except Exception as e:  # network, auth, missing repo or revision
        raise _hub_exception(e, ckpt.repo, ckpt.revision) from e
    siblings = info.siblings or []
    for pattern, _ in _WEIGHTS:
        shas = {
            s.rfilename: s.lfs.sha256
            for s in siblings
            if fnmatch.fnmatchcase(s.rfilename, pattern) and s.lfs is not None
        }
        if shas:
            return _combine(shas)
    raise PathdepError(
        f"{ckpt.repo} revision {ckpt.revision} has no weights file on the hub; "
        "leave this checkpoint out of the suite"
    )


def digest_and_source(run: Run, ckpt: Checkpoint) -> tuple[str, str]:
    """(digest, where it was read: 'local', 'cache' or 'hub')."""
    if ckpt.path:
        return _local_digest(Path(ckpt.path)), "local"
    digest = _cached_digest(ckpt)
    if digest is not None:
        return digest, "cache"
    if offline():
        raise PathdepError(
            f"checkpoint {ckpt.repo} revision {ckpt.revision} of run {run.id!r} is not in the "
            "local Hugging Face cache and HF_HUB_OFFLINE is set; download it (hf download "
            f"{ckpt.repo} --revision {ckpt.revision}) or unset HF_HUB_OFFLINE"
        )
    return _remote_digest(ckpt), "hub"


def weights_digest(run: Run, ckpt: Checkpoint) -> str:
    """sha256 of a checkpoint's weights: local folder, cached hub snapshot, or hub metadata."""
    return digest_and_source(run, ckpt)[0]


def _digests(suite: Suite) -> dict[str, dict[int, str]]:
    """run id -> step -> digest, for every checkpoint of the suite."""
    out: dict[str, dict[int, str]] = {}
    with progress.bar("hashing checkpoints", total=suite.n_checkpoints, info="") as bar:
        for run in suite.runs:
            out[run.id] = {}
            for ckpt in run.checkpoints:
                out[run.id][ckpt.step] = weights_digest(run, ckpt)
                bar.advance(info=run.id)
    return out


def _groups(digests: dict[str, dict[int, str]]) -> list[tuple[DuplicateGroup, str]]:
    found = []
    for run_id, by_step in digests.items():
        steps_of: dict[str, list[int]] = {}
        for step in sorted(by_step):
            steps_of.setdefault(by_step[step], []).append(step)
        found += [(DuplicateGroup(run_id, s), d) for d, s in steps_of.items() if len(s) > 1]
    return found


def find_duplicates(suite: Suite) -> list[DuplicateGroup]:
    """Groups of steps, within each run, whose weights are bit-identical."""
    return [g for g, _ in _groups(_digests(suite))]


def drop_duplicates(suite: Suite) -> tuple[Suite, list[dict]]:
    """Keep the first step of each identical group; return the new suite and a report.

    Each report row: ``run``, ``kept`` step, ``dropped`` steps, ``digest``, and
    ``contiguous`` (False when other weights lie between the copies, as when a
    later checkpoint is served under earlier steps: then no copy may be the
    true weights of its step). The new suite's ``meta["dropped_duplicates"]``
    holds the report.
    """
    report = []
    for group, digest in _groups(_digests(suite)):
        run = suite.run(group.run)
        first, last = run.steps.index(group.steps[0]), run.steps.index(group.steps[-1])
        contiguous = last - first + 1 == len(group.steps)
        row = {
            "run": group.run,
            "kept": group.steps[0],
            "dropped": group.steps[1:],
            "digest": digest,
            "contiguous": contiguous,
        }
        report.append(row)
        log.info(
            "run %s: steps %s repeat the weights of step %d; dropped",
            group.run,
            row["dropped"],
            row["kept"],
        )
        if not contiguous:
            log.warning(
                "run %s: identical weights at non-adjacent steps %s; a later checkpoint may "
                "be served under earlier steps, so these are suspect",
                group.run,
                group.steps,
            )
    out = suite.model_copy(deep=True)
    dropped = {(r["run"], s) for r in report for s in r["dropped"]}
    for run in out.runs:
        run.checkpoints = [c for c in run.checkpoints if (run.id, c.step) not in dropped]
    out.meta["dropped_duplicates"] = report
    return out, report
