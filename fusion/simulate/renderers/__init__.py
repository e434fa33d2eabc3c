"""One renderer per simulated sensor, in a registry: sensor name -> renderer class.

A renderer (:class:`~fusion.simulate.renderers.base.SensorRenderer`) observes the shared
landscape and weather of a :class:`~fusion.simulate.context.SceneContext` with its sensor's
geometry, PSF, misregistration, noise and QA encoding, writes the scenes' COGs and yields
their items. The simulator runs the renderers named in ``SimulationConfig.sensors`` in the
order of :data:`RENDERERS`.
"""

from __future__ import annotations

from fusion.errors import UnknownNameError
from fusion.simulate.config import SIMULATED_SENSORS
from fusion.simulate.renderers.base import SensorRenderer
from fusion.simulate.renderers.landsat import LandsatRenderer
from fusion.simulate.renderers.modis import ModisRenderer
from fusion.simulate.renderers.sentinel2 import Sentinel2Renderer

__all__ = [
    "RENDERERS",
    "LandsatRenderer",
    "ModisRenderer",
    "SensorRenderer",
    "Sentinel2Renderer",
    "get_renderer",
]

#: Sensor name -> renderer class, in rendering order.
RENDERERS: dict[str, type[SensorRenderer]] = {
    r.name: r for r in (LandsatRenderer, ModisRenderer, Sentinel2Renderer)
}

if tuple(RENDERERS) != SIMULATED_SENSORS:  # pragma: no cover - a programming error
    raise RuntimeError(f"renderers {tuple(RENDERERS)} do not match SIMULATED_SENSORS {SIMULATED_SENSORS}")


def get_renderer(name: str) -> type[SensorRenderer]:
    """The renderer class of simulated sensor ``name``."""
    try:
        return RENDERERS[name]
    except KeyError:
        raise UnknownNameError(
            f"no renderer for simulated sensor {name!r}; choose one of: {', '.join(RENDERERS)}"
        ) from None
