"""Prepare a suite folder before any run trains: spec, data, tokenizer.

    OUT/spec.json        the validated spec and its digest (the folder's identity)
    OUT/spec.toml        the spec as the user wrote it (when given a file)
    OUT/tokenizer/       PreTrainedTokenizerFast (trained here unless the data or spec brings one)
    OUT/data/info.json   generator-level ground truth (entities, canaries, chains, ...)
    OUT/data/train.npz   the tokenized training documents (ids, offsets)
    OUT/data/tracked.json  doc index -> tracked item ids
    OUT/data/injected.json intervention name -> [[item id, text]]

A folder that already holds a different suite is refused, never overwritten.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np

from pathdep import atomic
from pathdep.data import generate
from pathdep.data.counterfactual import counterfactual_docs
from pathdep.data.tokenizer import check_encodes, load_tokenizer_from, train_bpe
from pathdep.errors import PathdepError
from pathdep.spec import (
    BehaviorIntervention,
    CanaryIntervention,
    CounterfactualIntervention,
    DocsIntervention,
    FileIntervention,
    Spec,
)
from pathdep.train.batches import TokenizedCorpus
from pathdep.train.loop import load_corpus

log = logging.getLogger(__name__)


def _failed_start(out: Path) -> bool:
    """True when ``out`` holds only what a start that failed before its data was written leaves."""
    return not (out / "data" / "train.npz").is_file() and not (out / "runs").exists()


def claim_folder(spec: Spec, out: Path) -> bool:
    """Make ``out`` this spec's suite folder, or refuse if it holds something else.

    Returns True when this call claimed it (a new suite folder), False when it
    already was this spec's. A folder left by a start that failed before any
    data was written (only spec.json, perhaps a tokenizer) is taken over, so that
    the corrected spec can be rerun with the same ``--out``.
    """
    marker = out / "spec.json"
    if marker.is_file():
        old = json.loads(marker.read_text())
        if old.get("digest") == spec.digest():
            return False
        if not _failed_start(out):
            raise PathdepError(
                f"{out} already holds a different suite ({old.get('name')!r}, spec digest "
                f"{old.get('digest')}); choose another --out folder or delete that one"
            )
        log.info("%s holds only the leftovers of a failed start; reusing it", out)
        _remove_start(out, existed=True)
    elif out.exists() and any(p for p in out.iterdir() if not p.name.startswith(".")):
        raise PathdepError(f"{out} is not empty and is not a pathdep suite; choose an empty or new --out folder")
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_json(marker, {"name": spec.name, "digest": spec.digest(), "spec": spec.model_dump(mode="json")})
    return True


START_FILES = ("spec.json", "spec.toml", "tokenizer", "data")


def _remove_start(out: Path, existed: bool) -> None:
    """Remove what a start writes (spec, tokenizer, data), and ``out`` itself if it did not exist."""
    if not existed:
        shutil.rmtree(out, ignore_errors=True)
        return
    for name in START_FILES:
        p = out / name
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        elif p.exists():
            p.unlink()


MAX_BURST_DOCS = 256


def _behavior_docs(iv, corpus) -> list[list[str]]:
    """Training documents that hold ``iv.behavior`` (world annotations), evenly spread."""
    if not corpus.annotations or iv.behavior not in (corpus.annotations[0] or {}):
        raise PathdepError(
            f"intervention {iv.name!r}: source = 'behavior' needs the world generator's "
            f"annotations ({iv.behavior}); this data has none"
        )
    idx = [i for i, a in enumerate(corpus.annotations) if a.get(iv.behavior)]
    if len(idx) > MAX_BURST_DOCS:
        idx = [idx[j] for j in np.linspace(0, len(idx) - 1, MAX_BURST_DOCS).astype(int)]
    return [[f"{iv.name}:doc{i}", corpus.docs[i]] for i in idx]


def _injected(spec: Spec, corpus) -> dict[str, list[list[str]]]:
    info = corpus.info
    out = {}
    for iv in spec.interventions:
        if not iv.injects:
            continue
        if isinstance(iv, CounterfactualIntervention):
            items = counterfactual_docs(info, iv.select, iv.n_facts, iv.name)
        elif isinstance(iv, BehaviorIntervention):
            items = _behavior_docs(iv, corpus)
        elif isinstance(iv, DocsIntervention):
            items = [[f"{iv.name}:{i}", d] for i, d in enumerate(iv.docs)]
        elif isinstance(iv, FileIntervention):
            p = Path(iv.file)
            if not p.is_file():
                raise PathdepError(f"intervention {iv.name!r}: file {p} does not exist")
            lines = [ln for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
            items = [[f"{iv.name}:{i}", d] for i, d in enumerate(lines)]
        else:
            assert isinstance(iv, CanaryIntervention)
            canaries = info.get("canaries") or []
            chosen = iv.select if iv.select is not None else list(range(len(canaries)))
            if not canaries or any(i >= len(canaries) or i < 0 for i in chosen):
                raise PathdepError(
                    f"intervention {iv.name!r} asks for canaries {chosen}, but the data has "
                    f"{len(canaries)}; set data.n_canaries (world generator) or select fewer"
                )
            items = [[canaries[i]["id"], canaries[i]["text"]] for i in chosen]
        if not items:
            raise PathdepError(f"intervention {iv.name!r} has no documents to inject")
        out[iv.name] = items
    return out


def _tokenizer(spec: Spec, corpus, out: Path):
    folder = out / "tokenizer"
    if (folder / "tokenizer.json").is_file():
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(folder)
    if spec.tokenizer.path:
        tok = load_tokenizer_from(spec.tokenizer.path)
        check_encodes(tok, corpus.docs)
    elif corpus.tokenizer is not None:
        tok = corpus.tokenizer
    else:
        tok = train_bpe(corpus.docs, spec.tokenizer.vocab_size, spec.tokenizer.min_frequency)
    with atomic.atomic_dir(folder) as tmp:
        tok.save_pretrained(tmp)
        _portable_config(Path(tmp))
    return tok


def _portable_config(folder: Path) -> None:
    """Make the saved tokenizer load the same on every transformers (issue 16).

    transformers 5 writes ``tokenizer_class: TokenizersBackend``, a class 4.x lacks
    (AutoTokenizer fails there); ``PreTrainedTokenizerFast`` is the same class in 5.x
    (an alias) and exists in 4.x. ``model_max_length`` stays "unset" (1e30): the
    corpus tokenises whole documents, and lm-evaluation-harness reads the context
    from config.json's ``max_position_embeddings`` first.
    """
    file = folder / "tokenizer_config.json"
    cfg = json.loads(file.read_text())
    if cfg.get("tokenizer_class") == "TokenizersBackend":
        cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    file.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def prepare(spec: Spec, out: Path):
    """Write (or reuse) the suite's data and tokenizer; return (tokenizer, tokenized corpus)."""
    out = Path(out)
    existed = out.exists()
    fresh = claim_folder(spec, out)
    try:
        return _prepare(spec, out)
    except BaseException:
        if fresh:  # bad input leaves nothing behind that blocks the corrected rerun
            _remove_start(out, existed)
        raise


def _prepare(spec: Spec, out: Path):
    atomic.clean_stale(out)
    data_dir = out / "data"
    corpus = generate(spec.data, "train")
    if not corpus.docs or not any(d.strip() for d in corpus.docs):
        raise PathdepError("the training corpus is empty; check the [data] section")
    tok = _tokenizer(spec, corpus, out)
    injected = _injected(spec, corpus)
    npz = data_dir / "train.npz"
    if npz.is_file():
        tc = load_corpus(out)
    else:
        tc = TokenizedCorpus.build(tok, corpus.docs, corpus.annotations)
        atomic.write_json(data_dir / "info.json", corpus.info)
        atomic.write_json(data_dir / "tracked.json", {str(k): v for k, v in tc.tracked.items()})
        tmp = data_dir / ".train.tmp-npz.npz"
        np.savez(tmp, ids=tc.ids, offsets=tc.offsets)
        tmp.rename(npz)
    # rewritten every time: branches may bring interventions the grid runs did not have
    atomic.write_json(data_dir / "injected.json", injected)
    log.info("suite %s: %d training documents, %d tokens, vocab %d", spec.name, tc.n_docs,
             len(tc.ids), len(tok))
    return tok, tc
