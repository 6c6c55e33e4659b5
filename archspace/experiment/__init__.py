"""Experiments: fixed lists of genomes trained with declared seeds and proxy budgets
through the search's runner, and reported as the paper lays out its tables."""
