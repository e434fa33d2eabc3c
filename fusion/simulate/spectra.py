"""Endmember spectra and their integration over a sensor band's spectral response.

Each pixel of the landscape is a linear mixture of five endmember spectra; a sensor band sees
an endmember as its spectrum integrated over a Gaussian spectral-response function of the
band (centre and FWHM from the sensor table), so Landsat, Sentinel-2 and MODIS see the same
surface through different bands.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fusion import sensors as S
from fusion.simulate.fields import F32

#: Endmembers, in the order of the fraction stack.
ENDMEMBERS = ("green_vegetation", "soil", "dry_vegetation", "water", "impervious")

#: Endmember reflectance spectra: (wavelength µm, reflectance) anchor points, linearly
#: interpolated. Shapes follow typical library spectra (red edge, SWIR water absorption ...).
SPECTRA: dict[str, list[tuple[float, float]]] = {
    "green_vegetation": [
        (0.40, 0.030),
        (0.45, 0.035),
        (0.50, 0.045),
        (0.55, 0.090),
        (0.60, 0.060),
        (0.65, 0.035),
        (0.68, 0.030),
        (0.70, 0.080),
        (0.74, 0.350),
        (0.78, 0.450),
        (0.90, 0.470),
        (1.10, 0.450),
        (1.25, 0.400),
        (1.40, 0.150),
        (1.50, 0.250),
        (1.65, 0.280),
        (1.80, 0.200),
        (1.95, 0.060),
        (2.10, 0.130),
        (2.20, 0.120),
        (2.35, 0.080),
        (2.50, 0.060),
    ],
    "soil": [
        (0.40, 0.060),
        (0.50, 0.090),
        (0.60, 0.130),
        (0.70, 0.170),
        (0.90, 0.220),
        (1.30, 0.280),
        (1.65, 0.330),
        (1.95, 0.260),
        (2.20, 0.300),
        (2.50, 0.270),
    ],
    "dry_vegetation": [
        (0.40, 0.050),
        (0.50, 0.080),
        (0.60, 0.130),
        (0.70, 0.190),
        (0.90, 0.270),
        (1.30, 0.350),
        (1.65, 0.380),
        (1.95, 0.220),
        (2.20, 0.300),
        (2.50, 0.240),
    ],
    "water": [
        (0.40, 0.060),
        (0.50, 0.055),
        (0.60, 0.040),
        (0.70, 0.020),
        (0.80, 0.010),
        (1.00, 0.005),
        (2.50, 0.003),
    ],
    "impervious": [
        (0.40, 0.080),
        (0.60, 0.120),
        (0.90, 0.160),
        (1.65, 0.200),
        (2.20, 0.180),
        (2.50, 0.170),
    ],
}


class SpectralLibrary:
    """The endmember spectra sampled finely enough (1 nm) to integrate any band's response."""

    def __init__(self) -> None:
        self.wavelengths = np.linspace(0.35, 2.55, 2201)
        #: (endmembers, wavelengths) reflectance, linearly interpolated between anchor points.
        self.spectra: npt.NDArray[np.float64] = np.stack(
            [np.interp(self.wavelengths, *np.asarray(SPECTRA[e]).T) for e in ENDMEMBERS]
        )

    def band_matrix(self, bands: tuple[S.Band, ...] | list[S.Band]) -> F32:
        """(endmembers, bands): endmember reflectance integrated over each band's response."""
        out = np.zeros((len(ENDMEMBERS), len(bands)), dtype=np.float64)
        for j, band in enumerate(bands):
            sigma = band.full_width_half_max / 2.3548
            srf = np.exp(-0.5 * ((self.wavelengths - band.center_wavelength) / sigma) ** 2)
            out[:, j] = (self.spectra * srf).sum(axis=1) / srf.sum()
        return out.astype(np.float32)
