"""Training and evaluation: recipes, the loop, checkpoints, multi-view testing."""
