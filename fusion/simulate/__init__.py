"""Deterministic multi-sensor scene simulator: the demo's, the tests' and the models' data.

A *landscape* is a continuous function of map position (metres, in a real UTM CRS) and day:
rectangular crop fields with their own phenology, forest, grassland, bare fields, a town, a
river with a lake and a flood plain. Each pixel is a linear mixture of five endmember spectra
(green vegetation, soil, dry vegetation, water, impervious) times a spatial texture; each
sensor band integrates the endmember spectra over a Gaussian spectral-response function of
that band, so Landsat, Sentinel-2 and MODIS see the same surface through different bands.

Sensors observe the landscape with their own geometry (Landsat 30 m every 16 days, MODIS in
its sinusoidal projection at 463 m as an 8-day MOD09A1 composite, Sentinel-2 10/20 m every 5
days), point-spread function, per-scene misregistration, noise, and clouds, cloud shadows and
cirrus from one shared daily weather, so a cloud over Landsat is over MODIS on the same day.
QA is encoded in each sensor's native format (``QA_PIXEL`` bits, ``state_500m`` bits, ``SCL``
classes). The noise-free, cloud-free surface in Landsat OLI bands is kept apart as truth.

Everything derives from one seed through named :class:`numpy.random.SeedSequence` children,
so the same configuration gives byte-identical outputs.

Modules: :mod:`~fusion.simulate.config` (:class:`SimulationConfig`),
:mod:`~fusion.simulate.fields` (random streams, grids, smooth noise),
:mod:`~fusion.simulate.spectra` (endmember spectra), :mod:`~fusion.simulate.landscape`
(parcels, land cover, phenology, flood), :mod:`~fusion.simulate.weather` (clouds, shadows,
cirrus, QA encoding), :mod:`~fusion.simulate.renderers` (one renderer per sensor, in a
registry), :mod:`~fusion.simulate.truth`, :mod:`~fusion.simulate.catalog_writer` (the STAC
catalog) and :mod:`~fusion.simulate.simulator` (the run). This package re-exports the names
used outside it.
"""

from __future__ import annotations

from fusion.simulate.catalog_writer import write_simulated_catalog
from fusion.simulate.config import SIMULATED_SENSORS, SimulationConfig
from fusion.simulate.context import Progress, SceneContext
from fusion.simulate.fields import RegularGrid, ValueNoise
from fusion.simulate.items import AssetFile, SimulatedItem, SimulationResult
from fusion.simulate.landscape import CLASSES, Landscape, StaticLayers
from fusion.simulate.renderers import RENDERERS, SensorRenderer, get_renderer
from fusion.simulate.renderers.modis import MODIS_PIXEL, MODIS_SINUSOIDAL
from fusion.simulate.simulator import Simulator, simulate
from fusion.simulate.spectra import ENDMEMBERS
from fusion.simulate.truth import TRUTH_BANDS, TRUTH_NODATA, TRUTH_SCALE, read_truth, truth_reflectance
from fusion.simulate.weather import Atmosphere, Weather

__all__ = [
    "CLASSES",
    "ENDMEMBERS",
    "MODIS_PIXEL",
    "MODIS_SINUSOIDAL",
    "RENDERERS",
    "SIMULATED_SENSORS",
    "TRUTH_BANDS",
    "TRUTH_NODATA",
    "TRUTH_SCALE",
    "AssetFile",
    "Atmosphere",
    "Landscape",
    "Progress",
    "RegularGrid",
    "SceneContext",
    "SensorRenderer",
    "SimulatedItem",
    "SimulationConfig",
    "SimulationResult",
    "Simulator",
    "StaticLayers",
    "ValueNoise",
    "Weather",
    "get_renderer",
    "read_truth",
    "simulate",
    "truth_reflectance",
    "write_simulated_catalog",
]
