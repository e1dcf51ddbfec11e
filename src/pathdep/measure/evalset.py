"""Evaluation sets: the fixed ``tokens[seq, pos]`` every checkpoint of a suite is measured on.

Sources (``evalset=`` of ``measure``, ``--eval``):

| eval                         | documents                                               |
|------------------------------|---------------------------------------------------------|
| None                         | held-out split of the suite's own generator (its spec)  |
| ``file.txt`` / ``file.jsonl``| every document of the file (pathdep.data.text readers)  |
| a ``save_to_disk`` folder, or ``hf:NAME[:CONFIG][@SPLIT]`` | a Hugging Face dataset split |
| a data config (TextConfig…)  | that config's held-out split (``generate(cfg, "eval")``)|

Documents are tokenised with the suite's tokenizer, joined with its EOS token
and cut into sequences of ``context`` tokens; only as many documents are read
as the ``n_seq`` sequences need, so the set can be large (>= 1M tokens). Its
identity is the sha256 of the token array (:func:`token_hash`).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pathdep.data import generate, text
from pathdep.errors import PathdepError
from pathdep.measure.tokenizers import suite_tokenizer
from pathdep.spec import parse_spec
from pathdep.suites.model import Suite

log = logging.getLogger(__name__)
_DOC_BATCH = 256  # documents per tokenizer call


@dataclass
class EvalSet:
    """Evaluation tokens with their decoded strings and where they came from."""

    tokens: np.ndarray  # (seq, pos) int32
    token_str: np.ndarray  # (seq, pos) str
    source: str
    tokenizer: str
    bos_id: int
    special_ids: list[int]
    tok: object = None  # the tokenizer itself (for the behaviour probes)
    makeup: dict = field(default_factory=dict)  # documents, tokens, largest_share, seq_doc

    @property
    def hash(self) -> str:
        return token_hash(self.tokens)


def token_hash(tokens: np.ndarray) -> str:
    """sha256 over the shape and the int32 little-endian bytes of the token array."""
    arr = np.ascontiguousarray(tokens, dtype="<i4")
    h = hashlib.sha256(repr(arr.shape).encode())
    h.update(arr.tobytes())
    return h.hexdigest()


NATURAL_GENERATORS = ("text", "hf-dataset")


def is_natural(source: str) -> bool:
    """True for sources of natural text (files, datasets, the text generators' splits).

    Their documents differ in length and kind (one man page can be most of a
    file), so the evaluation set samples them; a synthetic generator's held-out
    documents are independent draws already and are read in order.
    """
    kind = source.partition(":")[0]
    return kind in ("file", "hf") or kind in NATURAL_GENERATORS


def eval_docs(suite: Suite, evalset=None) -> tuple[Iterable[str], str]:
    """The documents of an evaluation source and a description of it (see the module table)."""
    if evalset is None:
        spec = suite.meta.get("spec")
        if not spec:
            raise PathdepError(
                f"suite {suite.name!r} has no spec (it was not trained by pathdep), so it has no "
                "held-out data of its own; pass evalset= a .txt/.jsonl file, a dataset folder "
                "or hf:NAME (--eval)"
            )
        data = parse_spec(spec, f"suite {suite.name} spec").data
        return generate(data, "eval").docs, f"{data.generator}:eval"
    if hasattr(evalset, "generator"):  # a data config
        return generate(evalset, "eval").docs, f"{evalset.generator}:eval"
    where = str(evalset)
    path = Path(where)
    if path.is_file():
        return _file_docs(path), f"file:{path.name}"
    if path.is_dir() or where.startswith("hf:"):
        return _hf_docs(where), f"hf:{where.removeprefix('hf:')}"
    raise PathdepError(
        f"--eval {where!r} is neither a file, a dataset folder nor hf:NAME[:CONFIG][@SPLIT]"
    )


def _file_docs(path: Path) -> Iterable[str]:
    if path.suffix == ".jsonl":  # read lazily: only the documents the set needs
        return text.iter_jsonl(path, "text")
    try:
        return text.read_txt(path, "blank-line")
    except UnicodeDecodeError as e:
        raise PathdepError(f"{path} is not UTF-8 text: {e}") from None


def _hf_docs(source: str, field: str = "text") -> Iterator[str]:
    """Documents of a dataset split, read lazily (``hf:NAME[:CONFIG][@SPLIT]`` or a folder)."""
    import datasets

    name, _, split = source.removeprefix("hf:").partition("@")
    name, _, config = name.partition(":") if not Path(name).is_dir() else (name, "", "")
    split = split or "train"
    try:
        if Path(name).is_dir():
            ds = datasets.load_from_disk(name)
            ds = ds[split] if isinstance(ds, datasets.DatasetDict) else ds
        else:
            ds = datasets.load_dataset(name, config or None, split=split)
    except (FileNotFoundError, ConnectionError, ValueError, OSError, KeyError) as e:
        raise PathdepError(
            f"cannot load dataset {name!r} (split {split!r}): {e}; when offline, save it with "
            "Dataset.save_to_disk and pass that folder"
        ) from None
    if field not in ds.column_names:
        raise PathdepError(f"dataset {name!r} has no column {field!r}; its columns are {ds.column_names}")
    return (str(row[field]) for row in ds)


MAX_DOC_SHARE = 0.05  # of a sampled evaluation set's tokens, from any one document
MAX_POOL_DOCS = 100_000  # documents a sampled evaluation set draws from


def tokenize_chunks(tok, docs: Iterable[str], context: int, n_seq: int) -> np.ndarray:
    """``docs`` joined by EOS, cut into at most ``n_seq`` sequences of ``context`` tokens."""
    return chunk_documents(tok, docs, context, n_seq)[0]


def chunk_documents(tok, docs: Iterable[str], context: int, n_seq: int, *,
                    sample_seed: int | None = None,
                    max_doc_share: float = MAX_DOC_SHARE) -> tuple[np.ndarray, dict]:
    """Evaluation tokens ``(seq, pos)`` and their make-up (which documents they come from).

    In order (``sample_seed`` None): documents joined by EOS until ``n_seq``
    sequences of ``context`` tokens are filled. Sampled: up to MAX_POOL_DOCS
    documents are drawn in a seeded random order and each contributes at most
    ``max_doc_share`` of the tokens (its first tokens; more only when the pool
    has too few documents to fill the set otherwise), so no one document makes
    up the evaluation set. The make-up: ``documents`` used, ``pool`` size,
    ``tokens``, ``largest_share`` (of the tokens, from one document),
    ``sampled``, and ``seq_doc`` (the document index of each sequence's first
    token, in the source's order).
    """
    eos = tok.eos_token_id
    if eos is None:
        raise PathdepError("the tokenizer has no end-of-text token to separate documents")
    need = n_seq * context
    if sample_seed is None:
        order, pool, cap = None, None, None
        it = iter(docs)
    else:
        pool = [d for d in itertools.islice(docs, MAX_POOL_DOCS) if d.strip()]
        order = np.random.default_rng(sample_seed).permutation(len(pool))
        cap = max(2, int(max_doc_share * need), -(-need // max(1, len(pool))))
        it = (pool[i] for i in order)
    have, parts, doc_of = 0, [], []
    index = 0
    while have < need:
        batch = list(itertools.islice(it, _DOC_BATCH))
        if not batch:
            break
        for d, ids in zip(batch, tok(batch, add_special_tokens=False)["input_ids"], strict=True):
            doc = int(order[index]) if order is not None else index
            index += 1
            if not d.strip():
                continue
            ids = ids[: cap - 1] if cap is not None else ids
            parts.append(np.asarray([*ids, eos], dtype=np.int32))
            doc_of.append(doc)
            have += len(ids) + 1
            if have >= need:
                break
    flat = np.concatenate(parts) if parts else np.zeros(0, np.int32)
    n = min(n_seq, len(flat) // context)
    if n == 0:
        raise PathdepError(
            f"the evaluation text has {len(flat)} tokens, fewer than one sequence of {context}; "
            "give more text or a smaller context"
        )
    if n < n_seq:
        log.warning("evaluation text gives %d sequences of %d tokens (asked for %d)", n, context, n_seq)
    token_doc = np.repeat(np.asarray(doc_of, dtype=np.int64), [len(p) for p in parts])[: n * context]
    _, counts = np.unique(token_doc, return_counts=True)
    makeup = {"documents": int(len(counts)), "tokens": int(n * context),
              "largest_share": float(counts.max() / (n * context)), "sampled": order is not None,
              "pool": len(pool) if pool is not None else None,
              "seq_doc": token_doc[::context].tolist()}
    return flat[: n * context].reshape(n, context), makeup


def decode_table(tok, tokens: np.ndarray) -> np.ndarray:
    """Each token id decoded on its own, laid out like ``tokens`` (for display)."""
    uniq, inv = np.unique(tokens, return_inverse=True)
    strs = np.empty(max(1, len(uniq)), dtype=object)  # one object per distinct token: the
    strs[:] = [tok.decode([int(u)]) for u in uniq] or [""]  # table holds references only
    return strs[inv].reshape(tokens.shape)


def build_evalset(suite: Suite, evalset=None, *, context: int, n_seq: int,
                  tokenizer: str | None = None, seed: int = 0) -> EvalSet:
    """Read, tokenise and chunk an evaluation source with the suite's (one) tokenizer.

    Natural text (:func:`is_natural`) is sampled across its documents with
    ``seed``; see :func:`chunk_documents`.
    """
    docs, source = eval_docs(suite, evalset)
    docs = iter(docs)
    head = list(itertools.islice(docs, 20))
    tok, tok_name = suite_tokenizer(suite, tokenizer, head)
    tokens, makeup = chunk_documents(tok, itertools.chain(head, docs), context, n_seq,
                                     sample_seed=seed if is_natural(source) else None)
    special = sorted({int(i) for i in tok.all_special_ids})
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    log.info("evaluation set: %s, %d x %d tokens from %d documents (largest %.0f%%)", source,
             *tokens.shape, makeup["documents"], 100 * makeup["largest_share"])
    return EvalSet(tokens, decode_table(tok, tokens), source, tok_name, int(bos), special, tok,
                   makeup)
