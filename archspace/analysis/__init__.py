"""Analysis of a trials table (a pandas DataFrame): Pareto fronts and ranks.

Reads any table with the trials-table columns; imports nothing of search/ or train/.
"""

from archspace.analysis.pareto import pareto_front, pareto_rank

__all__ = ["pareto_front", "pareto_rank"]
