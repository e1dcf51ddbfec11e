"""Keep Hugging Face libraries from drawing their own progress bars.

pathdep shows one progress display for long work; a bar per saved or loaded
checkpoint from transformers would bury it.
"""

from __future__ import annotations

import functools


@functools.cache
def quiet() -> None:
    """Turn off transformers' and huggingface_hub's per-file progress bars (once)."""
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    disable_progress_bars()
