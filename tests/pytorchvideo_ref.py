"""pytorchvideo's X3D as a reference (tests and benchmarks only).

pytorchvideo imports torchvision.ops for detection heads that X3D never uses, and
PyPI's torchvision does not import beside the torch build here, so a stand-in module
takes its place before the import.
"""

import sys
import types


def create_x3d(**kwargs):
    if "torchvision" not in sys.modules:
        torchvision = types.ModuleType("torchvision")
        ops = types.ModuleType("torchvision.ops")
        ops.RoIAlign = ops.roi_align = None  # referenced at import time, never called for X3D
        torchvision.ops = ops
        sys.modules["torchvision"] = torchvision
        sys.modules["torchvision.ops"] = ops
    from pytorchvideo.models.x3d import create_x3d as create

    return create(**kwargs)
