"""Prompt dependence and forking tokens: how much the prompt's surface and the sampled path matter.

    pathdep forking runs/demo --prompt "The capital of Zorvia is" --out runs/demo.analysis
    pathdep prompts runs/demo --out runs/demo.analysis
"""

from pathdep.prompts.dependence import prompt_dependence
from pathdep.prompts.fork_analysis import ForkConfig, forking_tokens

__all__ = ["ForkConfig", "forking_tokens", "prompt_dependence"]
