"""Load one checkpoint's model and a run's tokenizer: the only place weights are read.

Local checkpoints are folders; hub checkpoints are ``from_pretrained(repo,
revision=...)``. Weights load from safetensors only unless the caller passes
``allow_pickle=True``; remote code is never trusted.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pathdep.errors import PathdepError
from pathdep.suites.model import Checkpoint, Run

log = logging.getLogger(__name__)

_SAFE = ("model.safetensors", "model.safetensors.index.json")
_PICKLED = ("pytorch_model.bin", "pytorch_model.bin.index.json")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def _check_local(folder: Path, allow_pickle: bool) -> None:
    if not folder.is_dir():
        raise PathdepError(
            f"checkpoint folder {folder} does not exist; re-run training for this run "
            "(pathdep train resumes) or narrow the suite with --steps"
        )
    if not (folder / "config.json").is_file():
        raise PathdepError(f"checkpoint {folder} has no config.json; it is incomplete or corrupt")
    if any((folder / n).is_file() for n in _SAFE):
        return
    if any((folder / n).is_file() for n in _PICKLED):
        if allow_pickle:
            return
        raise PathdepError(
            f"checkpoint {folder} holds only pickled weights (pytorch_model.bin), which can run "
            "arbitrary code when loaded; convert it to safetensors or pass allow_pickle=True "
            "(--allow-pickle) if you trust its source"
        )
    raise PathdepError(f"checkpoint {folder} has no weights file (model.safetensors)")


def load_model(run: Run, ckpt: Checkpoint, *, dtype=None, allow_pickle: bool = False):
    """Return the ``AutoModelForCausalLM`` of one checkpoint, in eval mode.

    Raises :class:`PathdepError` naming the folder (or repo and revision) when
    the weights are missing, corrupt, pickled without consent, or not cached
    while ``HF_HUB_OFFLINE`` is set.
    """
    import torch
    from transformers import AutoModelForCausalLM

    kwargs = dict(run.load_kwargs)
    kwargs.setdefault("dtype", dtype or torch.float32)
    kwargs["trust_remote_code"] = False
    kwargs["use_safetensors"] = not allow_pickle or None
    if ckpt.path:
        _check_local(Path(ckpt.path), allow_pickle)
        where, extra = ckpt.path, {}
    else:
        where, extra = ckpt.repo, {"revision": ckpt.revision}
    try:
        model = AutoModelForCausalLM.from_pretrained(where, **extra, **kwargs)
    except PathdepError:
        raise
    except (OSError, ValueError, RuntimeError) as e:
        raise _load_error(ckpt, e) from e
    model.eval()
    return model


def _load_error(ckpt: Checkpoint, e: Exception) -> PathdepError:
    if ckpt.path:
        return PathdepError(f"cannot load checkpoint {ckpt.path}: it is corrupt or incomplete ({e})")
    if _offline():
        return PathdepError(
            f"checkpoint {ckpt.repo} revision {ckpt.revision} is not in the local Hugging Face "
            "cache and HF_HUB_OFFLINE is set; download it on a machine with network access "
            f"(huggingface-cli download {ckpt.repo} --revision {ckpt.revision}) or unset "
            "HF_HUB_OFFLINE"
        )
    return PathdepError(f"cannot load {ckpt.repo} revision {ckpt.revision}: {e}")


def load_tokenizer(run: Run, ckpt: Checkpoint | None = None):
    """Return the run's tokenizer: its own folder/repo, else the checkpoint's."""
    from transformers import AutoTokenizer

    where = run.tokenizer
    extra: dict = {}
    if where is None:
        ckpt = ckpt or (run.checkpoints[-1] if run.checkpoints else None)
        if ckpt is None:
            raise PathdepError(f"run {run.id!r} has no tokenizer and no checkpoints")
        where = ckpt.path or ckpt.repo
        extra = {} if ckpt.path else {"revision": ckpt.revision}
    try:
        return AutoTokenizer.from_pretrained(where, trust_remote_code=False, **extra)
    except (OSError, ValueError) as e:
        if _offline() and not Path(str(where)).exists():
            raise PathdepError(
                f"tokenizer {where} is not in the local Hugging Face cache and HF_HUB_OFFLINE "
                "is set; download it first or unset HF_HUB_OFFLINE"
            ) from e
        raise PathdepError(f"cannot load the tokenizer of run {run.id!r} from {where}: {e}") from e
