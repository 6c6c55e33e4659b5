"""Networks built from a Genome's plan."""

from archspace.models.build import VideoNet, build_model, init_weights

__all__ = ["VideoNet", "build_model", "init_weights"]
