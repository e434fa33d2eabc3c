"""Landsat Collection 2 Level-2 surface reflectance tables (OLI/OLI-2, ETM+, TM).

Landsat Collection 2 Level-2 Science Product Guide (LSDS-1619 v6, LSDS-1328 v4): SR
``DN * 2.75e-5 - 0.2``, uint16, fill 0; ``QA_PIXEL`` bit layout (decoded by
:func:`fusion.sensors.qa.decode_landsat_qa_pixel`).
"""

from __future__ import annotations

from fusion.sensors.model import Band, QaAsset, Sensor

_LS_SCALE, _LS_OFFSET = 2.75e-5, -0.2


def _landsat_band(name: str, common: str, lo: float, hi: float) -> Band:
    return Band(name, common, common, lo, hi, 30.0, "uint16", 0, _LS_SCALE, _LS_OFFSET)


_LANDSAT_QA = QaAsset("qa_pixel", "landsat-qa-pixel", "uint16", 30.0, 1)

LANDSAT_OLI = Sensor(
    name="landsat-oli",
    collection="landsat-c2-l2",
    title="Landsat 8/9 OLI/OLI-2, Collection 2 Level-2 surface reflectance",
    platforms=("landsat-8", "landsat-9"),
    instruments=("oli", "tirs"),
    bands=(
        _landsat_band("OLI_B1", "coastal", 0.433, 0.451),
        _landsat_band("OLI_B2", "blue", 0.452, 0.512),
        _landsat_band("OLI_B3", "green", 0.533, 0.590),
        _landsat_band("OLI_B4", "red", 0.636, 0.673),
        _landsat_band("OLI_B5", "nir08", 0.851, 0.879),
        _landsat_band("OLI_B6", "swir16", 1.566, 1.651),
        _landsat_band("OLI_B7", "swir22", 2.107, 2.294),
    ),
    qa=_LANDSAT_QA,
    revisit_days=16,
)

LANDSAT_ETM = Sensor(
    name="landsat-etm",
    collection="landsat-c2-l2",
    title="Landsat 7 ETM+, Collection 2 Level-2 surface reflectance",
    platforms=("landsat-7",),
    instruments=("etm+",),
    bands=(
        _landsat_band("ETM_B1", "blue", 0.450, 0.515),
        _landsat_band("ETM_B2", "green", 0.525, 0.605),
        _landsat_band("ETM_B3", "red", 0.630, 0.690),
        _landsat_band("ETM_B4", "nir08", 0.775, 0.900),
        _landsat_band("ETM_B5", "swir16", 1.550, 1.750),
        _landsat_band("ETM_B7", "swir22", 2.090, 2.350),
    ),
    qa=_LANDSAT_QA,
    revisit_days=16,
)

LANDSAT_TM = Sensor(
    name="landsat-tm",
    collection="landsat-c2-l2",
    title="Landsat 4/5 TM, Collection 2 Level-2 surface reflectance",
    platforms=("landsat-4", "landsat-5"),
    instruments=("tm",),
    bands=(
        _landsat_band("TM_B1", "blue", 0.450, 0.520),
        _landsat_band("TM_B2", "green", 0.520, 0.600),
        _landsat_band("TM_B3", "red", 0.630, 0.690),
        _landsat_band("TM_B4", "nir08", 0.760, 0.900),
        _landsat_band("TM_B5", "swir16", 1.550, 1.750),
        _landsat_band("TM_B7", "swir22", 2.080, 2.350),
    ),
    qa=_LANDSAT_QA,
    revisit_days=16,
)
