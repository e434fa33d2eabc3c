"""Random streams, regular grids and smooth noise: the building blocks of the simulator.

Everything random derives from the configuration's seed through named
:class:`numpy.random.SeedSequence` children (:func:`named_rng`), so one purpose's draws never
depend on how many draws another purpose made, and the same configuration gives
byte-identical outputs.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from affine import Affine
from scipy import ndimage, sparse

F32 = npt.NDArray[np.float32]


def named_rng(seed: int, *names: str) -> np.random.Generator:
    """A generator for one named purpose: independent of how many draws others make."""
    key = int.from_bytes(hashlib.sha256("/".join(names).encode()).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence([seed, key]))


@dataclass(frozen=True)
class RegularGrid:
    """Pixel-centre coordinates of a north-up grid: top-left corner, pixel size, shape."""

    x0: float
    y0: float
    res: float
    height: int
    width: int

    @property
    def xs(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.x0 + (np.arange(self.width) + 0.5) * self.res, dtype=np.float64)

    @property
    def ys(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.y0 - (np.arange(self.height) + 0.5) * self.res, dtype=np.float64)

    @property
    def transform(self) -> Affine:
        return Affine(self.res, 0.0, self.x0, 0.0, -self.res, self.y0)

    def shifted(self, dx: float, dy: float) -> RegularGrid:
        return RegularGrid(self.x0 + dx, self.y0 + dy, self.res, self.height, self.width)


class ValueNoise:
    """Smooth random field: Gaussian values on a lattice of ``spacing`` metres, cubic spline
    interpolated. Resolution-independent: any grid samples the same continuous field."""

    def __init__(
        self, rng: np.random.Generator, bounds: tuple[float, float, float, float], spacing: float
    ) -> None:
        self.x0, self.y0 = bounds[0] - 2 * spacing, bounds[3] + 2 * spacing
        self.spacing = spacing
        nx = math.ceil((bounds[2] - bounds[0]) / spacing) + 5
        ny = math.ceil((bounds[3] - bounds[1]) / spacing) + 5
        self.coeffs = ndimage.spline_filter(rng.standard_normal((ny, nx)), order=3)

    def sample(self, grid: RegularGrid) -> F32:
        # On a regular grid the cubic B-spline is separable: f = By @ C @ Bx.T with sparse
        # basis matrices of four taps per row, i.e. about 4 multiply-adds per output pixel.
        bx = _bspline_basis((grid.xs - self.x0) / self.spacing, self.coeffs.shape[1])
        by = _bspline_basis((self.y0 - grid.ys) / self.spacing, self.coeffs.shape[0])
        rows = (bx @ self.coeffs.T).T  # (lattice rows, W)
        return np.asarray(by @ rows, dtype=np.float32)


def _bspline_basis(coords: npt.NDArray[np.float64], n: int) -> sparse.csr_matrix:
    """Sparse (len(coords), n) matrix of cubic B-spline weights at fractional positions."""
    i = np.floor(coords).astype(np.int64)
    t = coords - i
    w = np.stack(
        [(1 - t) ** 3 / 6, (3 * t**3 - 6 * t**2 + 4) / 6, (-3 * t**3 + 3 * t**2 + 3 * t + 1) / 6, t**3 / 6],
        axis=1,
    )
    cols = np.clip(i[:, None] + np.arange(-1, 3)[None, :], 0, n - 1)
    rows = np.repeat(np.arange(len(coords)), 4)
    return sparse.csr_matrix((w.ravel(), (rows, cols.ravel())), shape=(len(coords), n))
