"""Load one checkpoint's model, config and a run's tokenizer: the only place weights are read.

Local checkpoints are folders; hub checkpoints are ``from_pretrained(repo,
revision=...)``. Weights load from safetensors only unless the caller passes
``allow_pickle=True``; remote code is never trusted.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import torch
from huggingface_hub import try_to_load_from_cache

from pathdep._hf import offline, quiet
from pathdep.errors import PathdepError
from pathdep.suites.model import Checkpoint, Run

log = logging.getLogger(__name__)

_SAFE = ("model.safetensors", "model.safetensors.index.json")
_PICKLED = ("pytorch_model.bin", "pytorch_model.bin.index.json")
_MASKED_HEADS = ("ForMaskedLM", "ForPreTraining")  # encoder heads, e.g. BertForPreTraining


def _check_causal(config, ckpt: Checkpoint) -> None:
    """Refuse masked-LM weights: AutoModelForCausalLM would load BERT as a wrong decoder."""
    masked = [a for a in getattr(config, "architectures", None) or [] if a.endswith(_MASKED_HEADS)]
    if masked and not getattr(config, "is_decoder", False):
        raise PathdepError(
            f"checkpoint {ckpt.location} is a masked language model ({masked[0]}), not a causal "
            "LM; pathdep cannot measure it. Load it with AutoModelForMaskedLM outside pathdep, "
            "or remove it from the suite"
        )


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
    the weights are missing, corrupt, pickled without consent, a masked LM, or
    not cached while ``HF_HUB_OFFLINE`` is set. ``run.load_kwargs`` (e.g.
    ``attn_implementation="eager"`` for the CRFM GPT-2 runs) go to ``from_pretrained``.
    """
    # deferred: `pathdep --help` (which lists the analyses) need not import transformers
    from transformers import AutoConfig, AutoModelForCausalLM

    quiet()
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
        config = AutoConfig.from_pretrained(where, **extra, trust_remote_code=False)
    except PathdepError:
        raise
    except Exception as e:  # every failure is named by load_error
        raise load_error(ckpt, e, allow_pickle, stage="config") from e
    _check_causal(config, ckpt)
    try:
        model = AutoModelForCausalLM.from_pretrained(where, **extra, **kwargs)
    except PathdepError:
        raise
    except Exception as e:  # e.g. safetensors' SafetensorError on a truncated file
        raise load_error(ckpt, e, allow_pickle, stage="weights") from e
    model.eval()
    log.debug("loaded %s (%s attention)", ckpt.location, model.config._attn_implementation)
    return model


def _hub_pickled_only(ckpt: Checkpoint) -> bool:
    """True when the cached snapshot of repo@revision has pickled weights and no safetensors."""
    def cached(name: str) -> bool:
        found = try_to_load_from_cache(ckpt.repo, name, revision=ckpt.revision)
        return isinstance(found, str)

    return not any(map(cached, _SAFE)) and any(map(cached, _PICKLED))


def _saved_version(ckpt: Checkpoint) -> str | None:
    """The transformers version that wrote a local checkpoint's config.json, if it says."""
    try:
        return json.loads((Path(ckpt.path) / "config.json").read_text()).get("transformers_version")
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def _newer(saved: str | None, installed: str) -> bool:
    """True when version ``saved`` is after ``installed`` (major.minor.patch numbers only)."""
    def nums(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", v)[:3])

    return saved is not None and nums(saved) > nums(installed)


def _config_unreadable_by_version(ckpt: Checkpoint, e: Exception) -> bool:
    """A config that is valid JSON but that the installed transformers cannot read."""
    if isinstance(e, OSError):  # missing or not JSON: transformers raises OSError for both
        return False
    if not ckpt.path:
        return True
    try:
        json.loads((Path(ckpt.path) / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return True


def load_error(ckpt: Checkpoint, e: Exception, allow_pickle: bool = False,
               stage: str = "weights") -> PathdepError:
    """The PathdepError that says what went wrong loading ``ckpt`` (``stage``: config or weights).

    A missing file or unreadable weights is "corrupt or incomplete"; a config the
    installed transformers cannot read is a version error naming both versions.
    """
    import transformers  # deferred, as above

    installed = transformers.__version__
    saved = _saved_version(ckpt) if ckpt.path else None
    what = f"{type(e).__name__}: {e}"
    if stage == "config" and _config_unreadable_by_version(ckpt, e):
        by = f"was written by transformers {saved}; " if saved else ""
        fix = (f"upgrade transformers (pip install -U 'transformers>={saved}')" if _newer(saved, installed)
               else "install a transformers version that reads this model type")
        return PathdepError(
            f"cannot read the config of checkpoint {ckpt.location}: it {by}the installed "
            f"transformers {installed} cannot read it ({what}); {fix}"
        )
    if ckpt.path:
        note = (f"; it was written by transformers {saved}, newer than the installed {installed}: "
                "upgrading transformers may help" if _newer(saved, installed) else "")
        return PathdepError(
            f"cannot load checkpoint {ckpt.path}: it is corrupt or incomplete ({what}){note}")
    if not allow_pickle and _hub_pickled_only(ckpt):
        return PathdepError(
            f"checkpoint {ckpt.repo} revision {ckpt.revision} holds only pickled weights "
            "(pytorch_model.bin), which can run arbitrary code when loaded; pass "
            "allow_pickle=True (--allow-pickle) if you trust its source"
        )
    if offline():
        return PathdepError(
            f"checkpoint {ckpt.repo} revision {ckpt.revision} is not in the local Hugging Face "
            "cache and HF_HUB_OFFLINE is set; download it on a machine with network access "
            f"(hf download {ckpt.repo} --revision {ckpt.revision}) or unset "
            "HF_HUB_OFFLINE"
        )
    return PathdepError(f"cannot load {ckpt.repo} revision {ckpt.revision}: {e}")


def load_tokenizer(run: Run, ckpt: Checkpoint | None = None):
    """Return the run's tokenizer: its own folder/repo, else the checkpoint's."""
    # deferred: `pathdep --help` (which lists the analyses) need not import transformers
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
        if offline() and not Path(str(where)).exists():
            raise PathdepError(
                f"tokenizer {where} is not in the local Hugging Face cache and HF_HUB_OFFLINE "
                "is set; download it first or unset HF_HUB_OFFLINE"
            ) from e
        raise PathdepError(f"cannot load the tokenizer of run {run.id!r} from {where}: {e}") from e


def model_shape(run: Run) -> dict | None:
    """Model type (``gpt_neox``, ``gpt2``, ...), layers, heads, width, vocabulary and context of
    a run (its newest readable config)."""
    # deferred: `pathdep --help` (which lists the analyses) need not import transformers
    from transformers import AutoConfig

    for ckpt in reversed(run.checkpoints):
        where = ckpt.path or ckpt.repo
        extra = {} if ckpt.path else {"revision": ckpt.revision}
        try:
            cfg = AutoConfig.from_pretrained(where, trust_remote_code=False, **extra)
        except (OSError, ValueError) as e:
            log.debug("no config at %s: %s", ckpt.location, e)
            continue
        return {"type": cfg.model_type, "layers": cfg.num_hidden_layers, "heads": cfg.num_attention_heads,
                "d": cfg.hidden_size, "vocab": cfg.vocab_size,
                "context": getattr(cfg, "max_position_embeddings", None)}
    return None


def load_folder(folder: str | Path):
    """(model, tokenizer) of a checkpoint folder pathdep wrote itself (float32, train mode)."""
    # deferred: `pathdep --help` (which lists the analyses) need not import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet()
    return (AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32),
            AutoTokenizer.from_pretrained(folder))
