"""eo-fusion: satellite image fusion science (sensors, grids, simulation, search, metrics).

This package never imports Apache Beam; ``pipelines/`` wraps its functions in transforms.
"""

__version__ = "0.1.0"
