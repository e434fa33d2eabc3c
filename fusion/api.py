"""The Python API of eo-fusion: the few calls a notebook or a script needs.

Everything here is a thin, typed front to the functions the pipeline and the command line use
(no second implementation): model packages (:func:`load_model`, :func:`model_metadata`,
:func:`list_models`), fusing arrays with a package (:func:`fuse_arrays`, :func:`fuse_pair`),
fusing a user's own files (:func:`fuse_files`, the function behind ``fusion fuse-files``),
reading a product back as reflectance (:func:`read_product`) and scoring against a reference
(:func:`score`).

Running a whole request (search a STAC catalog, fuse every tile and date, publish) needs
Apache Beam, which ``fusion/`` never imports (``tests/test_layering.py``): that call,
:func:`pipelines.api.run_request`, lives in :mod:`pipelines.api`, which also re-exports every
name of this module. See docs/api.md.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from fusion import metrics as M
from fusion import publish
from fusion.errors import ConfigError
from fusion.files import FuseFilesRequest, FuseFilesResult, InputFile, OutputGrid
from fusion.files import fuse_files as _fuse_files
from fusion.models import get_metadata, resolve_model
from fusion.models import list_models as _list_models
from fusion.models.package import LoadedModel, ModelMetadata, load_model_package

F32 = npt.NDArray[np.float32]

__all__ = [
    "FuseFilesResult",
    "LoadedModel",
    "ModelMetadata",
    "OutputGrid",
    "Scores",
    "fuse_arrays",
    "fuse_files",
    "fuse_pair",
    "list_models",
    "load_model",
    "model_metadata",
    "read_product",
    "score",
]

Scores = M.Scores


def list_models() -> list[str]:
    """The names of the built-in model packages (``fusion models``)."""
    return _list_models()


def load_model(model: str | os.PathLike[str]) -> LoadedModel:
    """Load a model package: a built-in name (``"starfm"``) or a package folder. The package is
    checked (manifest, metadata, signature) as a pipeline run checks it."""
    return load_model_package(resolve_model(model))


def model_metadata(model: str | os.PathLike[str]) -> ModelMetadata:
    """A package's metadata (task, inputs with roles, times, ratios and bands, output bands,
    halo, reference pairs) without loading its SavedModel."""
    return get_metadata(model)


def _as_model(model: LoadedModel | str | os.PathLike[str]) -> LoadedModel:
    return model if isinstance(model, LoadedModel) else load_model(model)


def fuse_arrays(model: LoadedModel | str | os.PathLike[str], inputs: Mapping[str, npt.ArrayLike]) -> F32:
    """Run a package on arrays: ``inputs`` maps each input name of its metadata to float32
    reflectance, (H, W, C) or a batch (N, H, W, C); the result is (H, W, B) or (N, H, W, B) in
    the package's output bands. This is :meth:`LoadedModel.predict`, the pipeline's inference."""
    loaded = _as_model(model)
    names = [spec.name for spec in loaded.metadata.inputs]
    missing = [n for n in names if n not in inputs]
    if missing:
        raise ConfigError(f"model {loaded.metadata.name!r} needs input(s) {missing}; its inputs are {names}")
    arrays = {n: np.asarray(inputs[n], dtype=np.float32) for n in names}
    single = {a.ndim for a in arrays.values()} == {3}
    if single:
        arrays = {n: a[np.newaxis] for n, a in arrays.items()}
    out = loaded.predict(arrays)
    return out[0] if single else out


def fuse_pair(
    model: LoadedModel | str | os.PathLike[str],
    fine_reference: npt.ArrayLike,
    coarse_reference: npt.ArrayLike,
    coarse_target: npt.ArrayLike,
) -> F32:
    """A spatiotemporal package's prediction of the fine image of the target date from one
    reference pair: (H, W, B) fine reflectance of the reference date, and the coarse images of
    the reference and target dates at the package's coarse pixel size, (H/r, W/r, B) for its
    ratio r, all in the package's band order. A second pair, if the package reads one, is
    marked invalid (the pipeline does the same when a job has one pair)."""
    loaded = _as_model(model)
    meta = loaded.metadata
    if meta.task != "spatiotemporal":
        raise ConfigError(
            f"model {meta.name!r} is a {meta.task!r} model; fuse_pair needs a spatiotemporal one"
        )
    fine = np.asarray(fine_reference, np.float32)
    if fine.ndim != 3:
        raise ConfigError(f"fine_reference must be (H, W, bands), got shape {fine.shape}")
    valid = np.ones((*fine.shape[:2], 1), np.float32)
    by_role: dict[tuple[str, str], F32] = {
        ("coarse", "t0"): np.asarray(coarse_target, np.float32),
        ("fine", "tk"): fine,
        ("coarse", "tk"): np.asarray(coarse_reference, np.float32),
    }
    inputs: dict[str, F32] = {}
    for spec in meta.inputs:
        time = "t0" if spec.time == "t0" else "tk"
        if spec.role == "valid":
            inputs[spec.name] = valid if spec.time == "tk1" else np.zeros_like(valid)
        else:
            inputs[spec.name] = by_role[(spec.role, time)]
    return fuse_arrays(loaded, inputs)


def fuse_files(
    fine: Mapping[dt.date, str | os.PathLike[str]],
    coarse: Mapping[dt.date, str | os.PathLike[str]],
    target: dt.date,
    output: str | os.PathLike[str],
    *,
    model: str | os.PathLike[str] = "starfm",
    bands: Sequence[str] | None = None,
    masks: Mapping[tuple[str, dt.date], str | os.PathLike[str]] | None = None,
    nodata: float | None = None,
    scale: float | None = None,
    offset: float | None = None,
    grid: OutputGrid | None = None,
    block_size: int = 512,
    stac: bool = False,
    progress: Callable[[str], None] | None = None,
) -> FuseFilesResult:
    """Fuse a user's GeoTIFFs (``fusion fuse-files``): ``fine`` and ``coarse`` map dates to
    files, ``target`` is the date to predict (its coarse file must be given). ``bands``: the
    model band of each file band in file order; ``masks``: ``{(role, date): mask file}``
    (non-zero = usable); ``grid``: an output grid other than the fine file's. Writes the
    product COG (and, with ``stac``, its Item and a catalog) under ``output``."""
    masks = masks or {}
    files = [
        InputFile(role, date, os.fspath(path), _opt(masks.get((role, date))))
        for role, given in (("fine", fine), ("coarse", coarse))
        for date, path in given.items()
    ]
    request = FuseFilesRequest(
        files=tuple(files),
        target=target,
        output=os.fspath(output),
        model=os.fspath(model),
        bands=tuple(bands) if bands is not None else None,
        nodata=nodata,
        scale=scale,
        offset=offset,
        grid=grid,
        block_size=block_size,
        stac=stac,
    )
    return _fuse_files(request, progress)


def _opt(path: str | os.PathLike[str] | None) -> str | None:
    return None if path is None else os.fspath(path)


def read_product(path: str | os.PathLike[str]) -> tuple[F32, npt.NDArray[np.bool_]]:
    """A product COG (a pipeline's or fuse-files') as (B, H, W) float32 reflectance, NaN at
    nodata, and its (H, W) valid mask."""
    return publish.read_product(path)


def score(
    reference: npt.ArrayLike,
    predicted: npt.ArrayLike,
    mask: npt.ArrayLike | None = None,
    *,
    bands: Sequence[str] | None = None,
    metrics: Sequence[str] = ("rmse", "r2", "kge", "ssim"),
    data_range: float | None = 1.0,
) -> M.Scores:
    """Scores of ``predicted`` against ``reference`` (both (B, H, W) or (H, W) reflectance; NaN
    and ``mask`` False are left out): ``overall[metric]`` and ``per_band[metric][band]``. The
    default metrics are the spatiotemporal task's (seed 001); ``fusion.metrics.list_metrics()``
    has all. ``data_range`` 1.0 (reflectance) for SSIM and PSNR."""
    return M.evaluate(
        np.asarray(reference),
        np.asarray(predicted),
        None if mask is None else np.asarray(mask),
        bands=bands,
        metrics=metrics,
        data_range=data_range,
    )
