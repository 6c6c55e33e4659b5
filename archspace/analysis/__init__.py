"""Analysis of a trials table (a pandas DataFrame): Pareto ranks and fronts, hypervolume,
error EDFs (plain and complexity-normalised), and the HTML report.

Reads any table with the trials-table columns (archspace.analysis.trials); imports
nothing of search/ or train/.
"""

from archspace.analysis.edf import complexity_weights, edf, edf_band, grouped_edfs
from archspace.analysis.pareto import hypervolume, hypervolume_history, pareto_front, pareto_rank, reference_point

__all__ = ["complexity_weights", "edf", "edf_band", "grouped_edfs", "hypervolume", "hypervolume_history",
           "pareto_front", "pareto_rank", "reference_point"]
