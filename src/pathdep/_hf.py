"""Hugging Face settings: progress bars off, and whether the hub is offline.

pathdep shows one progress display for long work; a bar per saved or loaded
checkpoint from transformers would bury it. Imports of the Hugging Face
libraries are deferred into the functions so that ``import pathdep`` stays light.
"""

from __future__ import annotations

import functools
import os


@functools.cache
def quiet() -> None:
    """Turn off transformers' and huggingface_hub's per-file progress bars (once)."""
    from huggingface_hub.utils import (
        disable_progress_bars,  # deferred: keeps `import pathdep` light
    )
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    disable_progress_bars()


def offline() -> bool:
    """True when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set, in the env or in the hub."""
    from huggingface_hub import constants  # deferred: keeps `import pathdep` light

    env = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or "0"
    return bool(constants.HF_HUB_OFFLINE) or env.lower() in ("1", "true", "yes", "on")
