"""Linear mode connectivity: loss barriers, instability analysis and basins (methods.md §5).

    import pathdep
    results = pathdep.barriers("runs/branching")   # {"instability": ..., "basins": ...}

| module      | what                                                                 |
|-------------|----------------------------------------------------------------------|
| barrier     | interpolate two checkpoints; the loss barrier (Entezari et al. 2022) |
| options     | the typed options of both analyses (and the `pathdep barriers` flags) |
| inputs      | evaluation tokens, the store, the α grid and the threshold           |
| cache       | loss paths between checkpoints, cached as JSON                       |
| instability | Frankle et al.'s instability analysis over branch steps               |
| basins      | Juneja et al.'s basins, compared with behavioural clusters           |

Both analyses are registered in :mod:`pathdep.analyze.registry`; ``pathdep
barriers`` (``pathdep.barriers``) runs them through ``pathdep.analyze``.
"""

from pathdep.lmc.barrier import Barrier, alpha_grid, interpolation_losses, loss_barrier
from pathdep.lmc.basins import basins
from pathdep.lmc.instability import branch_pairs, instability

__all__ = ["Barrier", "alpha_grid", "basins", "branch_pairs", "instability",
           "interpolation_losses", "loss_barrier"]
