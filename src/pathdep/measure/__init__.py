"""The measurement stage: every (run, checkpoint) of a suite, measured into one store.

    from pathdep.measure import measure
    result = measure("runs/quick", out="runs/quick/measure.zarr")

| module      | what                                                              |
|-------------|-------------------------------------------------------------------|
| api         | ``measure()``: lay out the store, run the jobs, summarise         |
| evalset     | the evaluation tokens (suite generator, file, or HF dataset)      |
| tokenizers  | the suite's one tokenizer (runs must agree)                       |
| plan        | fixed samples and head-score inputs, drawn once per store         |
| layout      | the store layout of a suite (dims, attributes)                    |
| job         | one (run, checkpoint) job: load, measure, write                   |
| forward     | the pooled main pass: log-probs, entropies, distributions, hidden |
| heads       | head scores (previous-token, duplicate, induction, copying)       |
| arch        | architecture specifics (blocks, logits head, OV circuits)         |
| cli         | ``pathdep measure``                                               |
"""

from pathdep.measure.api import MeasureResult, measure

__all__ = ["MeasureResult", "measure"]
