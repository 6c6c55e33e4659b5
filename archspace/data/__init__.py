"""Video data: PyAV decoding, frame samplers, transforms, dataset layouts, synthetic
benchmark and clip cache. Import the pieces from their modules, e.g.
`from archspace.data.dataset import VideoDataset`.
"""
