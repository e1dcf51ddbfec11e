"""RL fine-tuning path dependence (``pathdep rl``): one base checkpoint, many RL seeds.

- ``task``: tasks whose answer has two interchangeable surface forms (``FormTask``),
  the built-in ``world_spelling_task``;
- ``grpo``: REINFORCE with group baselines (GRPO-style), one seed at a time;
- ``analysis``: ``rl_paths``, the spread of the final form across RL seeds beside the
  spread across pre-training seeds;
- ``cli``: the ``pathdep rl`` command.
"""

from pathdep.rl.task import FormItem, FormTask, spelling_task_from_info, world_spelling_task

__all__ = ["FormItem", "FormTask", "spelling_task_from_info", "world_spelling_task"]
