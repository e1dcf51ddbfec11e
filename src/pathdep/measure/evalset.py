"""Evaluation sets: the fixed ``tokens[seq, pos]`` every checkpoint of a suite is measured on.

Sources (``eval=``):

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
from dataclasses import dataclass
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

    @property
    def hash(self) -> str:
        return token_hash(self.tokens)


def token_hash(tokens: np.ndarray) -> str:
    """sha256 over the shape and the int32 little-endian bytes of the token array."""
    arr = np.ascontiguousarray(tokens, dtype="<i4")
    h = hashlib.sha256(repr(arr.shape).encode())
    h.update(arr.tobytes())
    return h.hexdigest()


def eval_docs(suite: Suite, eval=None) -> tuple[Iterable[str], str]:
    """The documents of an evaluation source and a description of it (see the module table)."""
    if eval is None:
        spec = suite.meta.get("spec")
        if not spec:
            raise PathdepError(
                f"suite {suite.name!r} has no spec (it was not trained by pathdep), so it has no "
                "held-out data of its own; pass eval= a .txt/.jsonl file, a dataset folder "
                "or hf:NAME (--eval)"
            )
        data = parse_spec(spec, f"suite {suite.name} spec").data
        return generate(data, "eval").docs, f"{data.generator}:eval"
    if hasattr(eval, "generator"):  # a data config
        return generate(eval, "eval").docs, f"{eval.generator}:eval"
    text = str(eval)
    path = Path(text)
    if path.is_file():
        return _file_docs(path), f"file:{path.name}"
    if path.is_dir() or text.startswith("hf:"):
        return _hf_docs(text), f"hf:{text.removeprefix('hf:')}"
    raise PathdepError(
        f"--eval {text!r} is neither a file, a dataset folder nor hf:NAME[:CONFIG][@SPLIT]"
    )


def _file_docs(path: Path) -> list[str]:
    if path.suffix == ".jsonl":
        return text.read_jsonl(path, "text")
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


def tokenize_chunks(tok, docs: Iterable[str], context: int, n_seq: int) -> np.ndarray:
    """``docs`` joined by EOS, cut into at most ``n_seq`` sequences of ``context`` tokens."""
    eos = tok.eos_token_id
    if eos is None:
        raise PathdepError("the tokenizer has no end-of-text token to separate documents")
    need, have, parts = n_seq * context, 0, []
    it = iter(docs)
    while have < need:
        batch = [d for d in itertools.islice(it, _DOC_BATCH) if d.strip()]
        if not batch:
            break
        for ids in tok(batch, add_special_tokens=False)["input_ids"]:
            parts.append(np.asarray([*ids, eos], dtype=np.int32))
            have += len(ids) + 1
    flat = np.concatenate(parts) if parts else np.zeros(0, np.int32)
    n = min(n_seq, len(flat) // context)
    if n == 0:
        raise PathdepError(
            f"the evaluation text has {len(flat)} tokens, fewer than one sequence of {context}; "
            "give more text or a smaller context"
        )
    if n < n_seq:
        log.warning("evaluation text gives %d sequences of %d tokens (asked for %d)", n, context, n_seq)
    return flat[: n * context].reshape(n, context)


def decode_table(tok, tokens: np.ndarray) -> np.ndarray:
    """Each token id decoded on its own, laid out like ``tokens`` (for display)."""
    uniq, inv = np.unique(tokens, return_inverse=True)
    strs = np.array([tok.decode([int(u)]) for u in uniq] or [""])
    return strs[inv].reshape(tokens.shape)


def build_evalset(suite: Suite, eval=None, *, context: int, n_seq: int,
                  tokenizer: str | None = None) -> EvalSet:
    """Read, tokenise and chunk an evaluation source with the suite's (one) tokenizer."""
    docs, source = eval_docs(suite, eval)
    docs = iter(docs)
    head = list(itertools.islice(docs, 20))
    tok, tok_name = suite_tokenizer(suite, tokenizer, head)
    tokens = tokenize_chunks(tok, itertools.chain(head, docs), context, n_seq)
    special = sorted({int(i) for i in tok.all_special_ids})
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    log.info("evaluation set: %s, %d x %d tokens", source, *tokens.shape)
    return EvalSet(tokens, decode_table(tok, tokens), source, tok_name, int(bos), special, tok)
