"""archspace: design-space exploration of efficient video-classification networks."""

from archspace.errors import UserError
from archspace.genome import PRESETS, Genome, GenomeError, load_genome, preset

__all__ = ["Genome", "GenomeError", "PRESETS", "UserError", "load_genome", "preset"]
__version__ = "0.1.0"
