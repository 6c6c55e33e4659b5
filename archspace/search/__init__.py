"""Search: space files (space.py), and the Optuna + Ray Tune runner built on them."""
