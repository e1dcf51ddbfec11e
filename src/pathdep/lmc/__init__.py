"""Linear mode connectivity: loss barriers, instability analysis and basins (methods.md §5).

    from pathdep.lmc import lmc
    results = lmc("runs/branching")      # {"instability": ..., "basins": ...}, saved beside the store

``barrier`` interpolates two checkpoints and measures the loss barrier
(Entezari et al. 2022; Frankle et al. 2020); ``analysis`` turns barriers into
Frankle et al.'s instability analysis over branch steps and Juneja et al.'s
basins compared with behavioural clusters.
"""

from pathdep.lmc.analysis import basins, instability, lmc
from pathdep.lmc.barrier import Barrier, alpha_grid, interpolation_losses, loss_barrier

__all__ = ["Barrier", "alpha_grid", "basins", "instability", "interpolation_losses", "lmc",
           "loss_barrier"]
