"""Hand one checkpoint of a suite to TransformerLens or nnsight.

    tl = pathdep.to_transformer_lens("pathdep-demo", "seed0-data1", 600)
    logits, cache = tl.run_with_cache(tokens)          # cache["pattern", layer]
    lm = pathdep.to_nnsight("pathdep-demo", "seed0-data1", 600)
    with lm.trace(tokens):
        out = lm.output.save()

The checkpoint is what :func:`pathdep.checkpoint_path` names: a folder of a
trained suite, or ``repo@revision`` on the Hugging Face Hub (a preset); or pass
that folder or string directly, with no run and step. Both bridges load the
Hugging Face weights unchanged, so their log-probs match the store's to 1e-5 in
float32 (tests/test_interop.py checks it on a trained checkpoint, with the
attention patterns and TransformerLens' head detector).

Sources: TransformerLens 4 ``TransformerBridge.boot_transformers`` and
``enable_compatibility_mode`` (the HookedTransformer-style folded weights and
hook names; TransformerLens docs, "TransformerBridge"); nnsight 0.8
``TransformersModel`` (``LanguageModel`` is deprecated there). Both are optional:
``pip install "pathdep[interp]"``.
"""

from __future__ import annotations

from pathlib import Path

from pathdep.errors import PathdepError
from pathdep.suites.where import checkpoint_path

_INSTALL = 'pip install "pathdep[interp]"'


def resolve(checkpoint, run: str | None = None, step: int | None = None) -> tuple[str, str | None]:
    """(folder or repo id, revision) of a checkpoint: ``checkpoint`` is a folder, a
    ``repo@revision`` string, or, with ``run`` and ``step``, anything
    :func:`pathdep.checkpoint_path` takes (a suite, its folder, a store, a preset)."""
    if (run is None) != (step is None):
        raise PathdepError("give both run and step (or neither, with a checkpoint folder or "
                           "'repo@revision')")
    where = checkpoint_path(checkpoint, run, step) if run is not None else checkpoint
    if isinstance(where, Path) or Path(str(where)).is_dir():
        folder = Path(where)
        if not (folder / "config.json").is_file():
            raise PathdepError(f"{folder} is not a checkpoint folder (no config.json); pass a "
                               "checkpoint folder, or a suite with run= and step=")
        return str(folder), None
    repo, _, revision = str(where).partition("@")
    if "/" not in repo:
        raise PathdepError(f"{where!r} is neither a checkpoint folder nor 'repo@revision'; pass "
                           "a folder, a hub repo, or a suite with run= and step=")
    return repo, revision or None


def _tokenizer(name: str, revision: str | None):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name, **({"revision": revision} if revision else {}))


def to_transformer_lens(checkpoint, run: str | None = None, step: int | None = None, *,
                        compatibility_mode: bool = False, device: str = "cpu", dtype=None):
    """A TransformerLens ``TransformerBridge`` of one checkpoint (TransformerLens >= 4).

    ``compatibility_mode=True`` calls the bridge's ``enable_compatibility_mode()``:
    HookedTransformer's processed weights (LayerNorm folded, centred writes) and hook
    names, as older TransformerLens code expects. Log-probs agree either way.
    """
    try:
        import torch
        from transformer_lens.model_bridge import TransformerBridge
    except ImportError as e:
        raise PathdepError(f"TransformerLens >= 4 is not installed ({e}); {_INSTALL}") from None
    name, revision = resolve(checkpoint, run, step)
    bridge = TransformerBridge.boot_transformers(
        name, revision=revision, device=device, dtype=dtype or torch.float32,
        tokenizer=_tokenizer(name, revision))
    if compatibility_mode:
        bridge.enable_compatibility_mode()
    return bridge


def to_nnsight(checkpoint, run: str | None = None, step: int | None = None, *,
               device: str = "cpu", eager_attention: bool = True, **kwargs):
    """An nnsight ``TransformersModel`` of one checkpoint, dispatched on ``device``.

    ``eager_attention`` (default) loads the model with eager attention, so the
    attention modules return their patterns (``layers[i].attention.output[1]``);
    SDPA returns none. Other keyword arguments go to ``TransformersModel``.
    """
    try:
        from nnsight import TransformersModel
    except ImportError as e:
        raise PathdepError(f"nnsight >= 0.8 is not installed ({e}); {_INSTALL}") from None
    name, revision = resolve(checkpoint, run, step)
    extra = dict(kwargs)
    if revision:
        extra["revision"] = revision
    if eager_attention:
        extra.setdefault("attn_implementation", "eager")
    return TransformersModel(name, task="text-generation", tokenizer=_tokenizer(name, revision),
                             device_map=device, dispatch=True, **extra)
