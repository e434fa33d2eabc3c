"""The real evaluation sets in ``shared/data`` (see its README) as arrays, and on-site
training with a spatial hold-out.

Both sets are one reference pair and one target date: predict the fine image of the target
date from the reference pair and the coarse image of the target date. Coarse images are
taken to the 1/16 grid by exact 16 × 16 block means (Gwydir's "MODIS" *is* such block means
replicated on the 30 m grid; Shenzhen's MODIS is resampled onto the 30 m grid and cropped to
496 × 496 so the blocks fit).

On-site training (seed 001's advice: train on your own area): the east ``holdout`` share of
the image is never seen in training and is where every method is scored; the west part is cut
into patches, both directions (reference → target and target → reference), and its southern
strip of patches is the validation set for early stopping.

Every method is scored through its model package (:meth:`LoadedModel.predict`, the inference
path of production runs): the on-site DCSTFN is exported as one under the report folder
(``packages/dcstfn-onsite``) and loaded back before it is scored.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from fusion.errors import ConfigError, SceneNotFound
from fusion.evaluation.report import Comparison, write_report
from fusion.grid import Window, block_mean
from fusion.models import get_metadata, get_model
from fusion.models.dcstfn.export import export_dcstfn
from fusion.models.dcstfn.subset import dcstfn_for_bands
from fusion.models.dcstfn.trainer import TrainConfig, train_dcstfn
from fusion.models.package import LoadedModel, load_model_package
from fusion.training.dataset import TrainingSet
from fusion.training.patches import Patch, serialize_patch

RATIO = 16
F32 = npt.NDArray[np.float32]
#: Where the on-site DCSTFN package is written, under the report folder.
ONSITE_PACKAGE = Path("packages") / "dcstfn-onsite"


@dataclass(frozen=True)
class RealSetSpec:
    name: str
    bands: tuple[str, ...]
    reference_date: dt.date
    target_date: dt.date
    fine_reference: str
    coarse_reference: str
    fine_target: str
    coarse_target: str
    size: int  #: square crop, a multiple of 16
    citation: str


REAL_SETS = {
    "gwydir_flood": RealSetSpec(
        "gwydir_flood",
        ("green", "red", "nir08"),
        dt.date(2004, 11, 26),
        dt.date(2004, 12, 28),
        "Landsat20041126.bsq",
        "MODIS20041126.bsq",
        "Landsat20041228.bsq",
        "MODIS20041228.bsq",
        480,
        "Lower Gwydir Catchment (Emelyanova et al. 2013, RSE 133:193-209), FSDAF test subset "
        "(Zhu et al. 2016, RSE 172:165-177)",
    ),
    "shenzhen": RealSetSpec(
        "shenzhen",
        ("nir08", "red", "green"),
        dt.date(2000, 11, 1),
        dt.date(2002, 11, 7),
        "L72000306_SZ_B432_30m.tif",
        "MOD09_2000306_SZ_B214_250m.tif",
        "L72002311_SZ_B432_30m.tif",
        "MOD09_2002311_SZ_B214_250m.tif",
        496,
        "Shenzhen Landsat-7 ETM+ / MODIS MOD09 (github endu111/remote-sensing-images-fusion, MIT)",
    ),
}


@dataclass
class RealSet:
    """(H, W, B) fine and (H/16, W/16, B) coarse reflectance of the reference and target dates."""

    spec: RealSetSpec
    fine_reference: F32
    coarse_reference: F32
    fine_target: F32
    coarse_target: F32

    @property
    def bands(self) -> list[str]:
        return list(self.spec.bands)


def default_data_dir() -> Path:
    """``shared/data`` in the repository checkout if it has one, else beside it
    (``../shared/data``)."""
    checkout = Path(__file__).resolve().parents[2]
    inside = checkout / "shared" / "data"
    return inside if inside.is_dir() else checkout.parent / "shared" / "data"


def _read(path: Path, size: int) -> F32:
    if not path.is_file():
        raise SceneNotFound(f"{path} is missing; pass --data-dir pointing at shared/data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        # ENVI rasters need their .hdr sidecar: let GDAL list the folder even where the cloud
        # read settings (fusion.remote) switched that off for the thread.
        with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="FALSE"), rasterio.open(path) as src:
            dn = src.read()[:, :size, :size]
    return np.moveaxis(dn.astype(np.float32) * np.float32(1e-4), 0, -1)


def load_real_set(name: str, data_dir: str | Path | None = None) -> RealSet:
    if name not in REAL_SETS:
        raise ConfigError(f"unknown real data set {name!r}; choose one of {sorted(REAL_SETS)}")
    spec = REAL_SETS[name]
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    folder = root / name

    def coarse(file: str) -> F32:
        fine = _read(folder / file, spec.size)
        return np.moveaxis(block_mean(np.moveaxis(fine, -1, 0), RATIO), 0, -1).astype(np.float32)

    return RealSet(
        spec,
        _read(folder / spec.fine_reference, spec.size),
        coarse(spec.coarse_reference),
        _read(folder / spec.fine_target, spec.size),
        coarse(spec.coarse_target),
    )


def holdout_boundary(size: int, holdout: float) -> int:
    """First fine column of the east hold-out, on a coarse-pixel boundary."""
    if not 0.0 < holdout < 1.0:
        raise ConfigError(f"holdout must be a share in (0, 1), got {holdout}")
    return round(size // RATIO * (1.0 - holdout)) * RATIO


def site_training_set(
    data: RealSet, out: Path, holdout: float = 0.5, stride: int = 1, validation_rows: int = 10
) -> dict[str, object]:
    """Write a training set (same format as ``fusion training-set``) from the west part.

    Patches of 10 × 10 coarse pixels with ``stride`` coarse pixels; those whose rows lie in the
    last ``validation_rows`` coarse rows validate (reference → target direction only), the
    others train (both directions). Nothing east of the hold-out boundary is used."""
    size = data.spec.size
    boundary = holdout_boundary(size, holdout)
    patch, fine_patch = 10, 10 * RATIO
    if boundary < fine_patch:
        raise ConfigError(f"the training part ({boundary} px) is narrower than one {fine_patch} px patch")
    coarse_rows = size // RATIO
    val_start = coarse_rows - validation_rows
    out.mkdir(parents=True, exist_ok=True)
    directions = [
        (
            "forward",
            data.spec.target_date,
            data.spec.reference_date,
            data.coarse_target,
            data.fine_reference,
            data.coarse_reference,
            data.fine_target,
        ),
        (
            "backward",
            data.spec.reference_date,
            data.spec.target_date,
            data.coarse_reference,
            data.fine_target,
            data.coarse_target,
            data.fine_reference,
        ),
    ]
    import tensorflow as tf

    counts = {"train": 0, "validation": 0}
    writers = {
        s: tf.io.TFRecordWriter(str(out / f"{s}-00000-of-00001.tfrecord.gz"), options="GZIP") for s in counts
    }
    try:
        for name, t0, tk, c0, fk, ck, target in directions:
            for ci in range(0, coarse_rows - patch + 1, stride):
                for cj in range(0, boundary // RATIO - patch + 1, stride):
                    in_val = ci + patch > val_start
                    if in_val and (ci < val_start or name != "forward"):
                        continue  # straddles the strip, or the strip's backward direction
                    split = "validation" if in_val else "train"
                    window = Window(ci * RATIO, cj * RATIO, fine_patch, fine_patch)
                    rows, cols = window.slices
                    crows, ccols = slice(ci, ci + patch), slice(cj, cj + patch)
                    p = Patch(
                        key=f"{data.spec.name}/{name}/{window.row}-{window.col}",
                        split=split,
                        window=window,
                        dates=(t0, tk),
                        arrays={
                            "coarse_t0": c0[crows, ccols],
                            "fine_tk1": fk[rows, cols],
                            "coarse_tk1": ck[crows, ccols],
                            "target": target[rows, cols],
                        },
                        mask=np.ones((fine_patch, fine_patch), bool),
                    )
                    writers[split].write(serialize_patch(p, len(data.bands)))
                    counts[split] += 1
    finally:
        for w in writers.values():
            w.close()
    manifest: dict[str, object] = {
        "schema": "eo-fusion/trainset/1",
        "catalog": f"shared/data/{data.spec.name}",
        "period": [data.spec.reference_date.isoformat(), data.spec.target_date.isoformat()],
        "bands": data.bands,
        "patch": {"coarse": patch, "stride": stride, "ratio": RATIO, "fine": fine_patch, "min_valid": 1.0},
        "split": {"holdout_east_from_column": boundary, "validation_rows": validation_rows},
        "examples": counts,
        "target_dates": {
            "train": sorted({data.spec.target_date.isoformat(), data.spec.reference_date.isoformat()}),
            "validation": [data.spec.target_date.isoformat()],
        },
        "files": {s: [f"{s}-00000-of-00001.tfrecord.gz"] for s in counts},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def package_inputs(
    data: RealSet, bands: Sequence[str], fill: Mapping[str, float] | None = None
) -> dict[str, F32]:
    """The set's target-date inputs in ``bands`` order, NHWC, for a spatiotemporal package
    (a second pair, if the package takes one, is marked invalid). A band the set lacks is the
    constant ``fill[band]`` in every fine and coarse input."""
    fill = fill or {}
    absent = [b for b in bands if b not in data.bands and b not in fill]
    if absent:
        raise ConfigError(f"{data.spec.name} has no band(s) {absent} and no fill value for them")

    def pick(image: F32) -> F32:
        planes = [
            image[..., data.bands.index(b)] if b in data.bands else np.full(image.shape[:2], fill[b])
            for b in bands
        ]
        return np.stack(planes, axis=-1).astype(np.float32)[np.newaxis]

    fine = pick(data.fine_reference)
    valid = np.ones((*fine.shape[:3], 1), np.float32)
    return {
        "coarse_t0": pick(data.coarse_target),
        "fine_tk1": fine,
        "coarse_tk1": pick(data.coarse_reference),
        "valid_tk1": valid,
        "fine_tk2": fine,
        "coarse_tk2": pick(data.coarse_reference),
        "valid_tk2": np.zeros_like(valid),
    }


def score_package(model: LoadedModel, data: RealSet) -> tuple[F32, dict[str, object]]:
    """A package's (H, W, B) prediction of the set's target date in the set's band order,
    through :meth:`LoadedModel.predict`, and where it came from (``path``, ``sha256``, the
    bands fed at the package's training mean).

    Bands of the package the set lacks are fed at their training mean (the ``mean`` of the
    package's normalization), zero after normalization: for a multi-band DCSTFN that equals
    restricting the network to the set's bands (:func:`~fusion.models.dcstfn.subset.band_subset_network`)."""
    meta = model.metadata
    missing = [b for b in data.bands if b not in meta.bands]
    if missing:
        raise ConfigError(f"model {meta.name!r} ({model.path}) has no band(s) {missing}")
    extra = [b for b in meta.bands if b not in data.bands]
    mean = meta.normalization.get("mean")
    fill: dict[str, float] = {}
    if extra:
        if not (isinstance(mean, list) and len(mean) == len(meta.bands)):
            raise ConfigError(
                f"model {meta.name!r} ({model.path}) needs band(s) {extra} that {data.spec.name} "
                "lacks and records no training mean to feed them at"
            )
        fill = {b: float(mean[meta.bands.index(b)]) for b in extra}
    out = model.predict(package_inputs(data, meta.bands, fill))[0]
    prediction: F32 = out[..., [meta.bands.index(b) for b in data.bands]].astype(np.float32)
    source: dict[str, object] = {
        "path": str(model.path),
        "sha256": model.checksum,
        "filled_at_training_mean": fill,
    }
    return prediction, source


def evaluate_real_set(
    name: str,
    out: Path,
    *,
    data_dir: str | Path | None = None,
    sim_package: str = "dcstfn",
    site_minutes: float = 10.0,
    holdout: float = 0.5,
    stride: int = 1,
    features: tuple[int, int, int] = (32, 64, 128),
    progress: object = None,
) -> dict[str, object]:
    """Score naive, STARFM, the simulated-data DCSTFN package and a DCSTFN trained on the
    site's west part, all on the east hold-out of the target date, every one through its model
    package. The on-site DCSTFN is exported to ``out / ONSITE_PACKAGE`` and loaded from there;
    ``notes["packages"]`` names the package each DCSTFN was scored from. Writes the report to
    ``out``. ``features``: of an on-site DCSTFN trained from scratch (when ``sim_package`` has
    no networks for the set's bands); one started from the package keeps the package's."""
    # The classical methods import TensorFlow at module level.
    from fusion.models.classical.naive import export_naive
    from fusion.models.classical.starfm import StarfmConfig, export_starfm

    say = progress if callable(progress) else (lambda _m: None)
    data = load_real_set(name, data_dir)
    bands = data.bands
    size = data.spec.size
    boundary = holdout_boundary(size, holdout)
    mask = np.zeros((size, size), bool)
    mask[:, boundary:] = True
    inputs = package_inputs(data, bands)
    predictions: dict[str, F32] = {}
    packages: dict[str, object] = {}
    notes: dict[str, object] = {"holdout_from_column": boundary, "bands": bands, "packages": packages}
    with tempfile.TemporaryDirectory() as tmp:
        naive = load_model_package(export_naive(Path(tmp) / "naive", bands, RATIO))
        predictions["naive"] = naive.predict(inputs)[0]
        starfm = load_model_package(
            export_starfm(
                Path(tmp) / "starfm", StarfmConfig(**get_metadata("starfm").parameters), bands, RATIO
            )
        )
        predictions["starfm"] = starfm.predict(inputs)[0]
        sim = dcstfn_for_bands(sim_package, bands)
        if sim.networks is not None and sim.normalization is not None:
            predictions["dcstfn-sim"], packages["dcstfn-sim"] = score_package(get_model(sim_package), data)
            d0, d1, d2 = (int(d) for d in get_metadata(sim_package).parameters["features"])
            features = (d0, d1, d2)  # the exported copy must match the networks it starts from
        else:
            notes["dcstfn-sim"] = f"not scored: {sim.reason}"
        say(f"{name}: building the on-site training set (west of column {boundary})")
        manifest = site_training_set(data, Path(tmp) / "site", holdout, stride)
        notes["site_examples"] = manifest["examples"]
        variant = sim.variant if sim.networks is not None else "multi-band"
        cfg = TrainConfig(
            variant=variant,
            features=features,
            residual=sim.residual if sim.networks is not None else True,
            naive_residual=sim.naive_residual if sim.networks is not None else False,
            fine_skip=sim.fine_skip if sim.networks is not None else False,
            # Fine-tuning keeps the package's kind of normalization (its values come from the site).
            band_scale=sim.normalization is not None and sim.normalization.per_band,
            batch_size=8,
            max_minutes=site_minutes,
            patience=4,
            epochs=100,
            name=ONSITE_PACKAGE.name,
        )
        site = TrainingSet.open(Path(tmp) / "site")
        result = train_dcstfn(site, cfg, out / "site-training", say, initial=sim.networks)
        notes["site_training"] = {
            "variant": variant,
            "initialised_from": sim_package if sim.networks is not None else None,
            "epochs": result.epochs,
            "stopped_by": result.stopped,
            "seconds": round(result.seconds, 1),
        }
        onsite = out / ONSITE_PACKAGE
        if onsite.exists():
            shutil.rmtree(onsite)  # an earlier run's package: no stale file may stay in it
        start = f", started from {sim_package}" if sim.networks is not None else ""
        command = f"fusion evaluate real --dataset {name}: on-site training west of column {boundary}{start}"
        export_dcstfn(onsite, result, cfg, site, command)
    say(f"{name}: on-site DCSTFN exported to {onsite}; scoring it from the package")
    predictions["dcstfn-site"], packages["dcstfn-site"] = score_package(load_model_package(onsite), data)
    comparison = Comparison(
        title=f"{name}: predict {data.spec.target_date} from {data.spec.reference_date}, east hold-out",
        bands=bands,
        observed=np.moveaxis(data.fine_target, -1, 0),
        mask=mask,
        predictions={k: np.moveaxis(v, -1, 0).astype(np.float32) for k, v in predictions.items()},
    )
    caption = (
        f"{name} ({data.spec.citation}): {data.spec.target_date} predicted from the "
        f"{data.spec.reference_date} pair; scored on the east hold-out (columns >= {boundary})."
    )
    report = write_report(out, [comparison], caption)
    report["notes"] = notes
    (out / "notes.json").write_text(json.dumps(notes, indent=2, sort_keys=True, default=str) + "\n")
    return report
