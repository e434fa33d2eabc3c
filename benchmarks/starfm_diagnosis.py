"""Why STARFM loses to the naive difference where it does (issue 25, item 3).

For Gwydir (flood, "MODIS" = exact 16 x 16 block means), Shenzhen (real MODIS, taken to the
1/16 grid by block means as in :mod:`fusion.evaluation.real`) and a simulated flood made from
the demo's noise-free truth (``2023-07-11`` -> ``2023-07-14``, the flood of 2023-07-12, coarse
= 16 x 16 block means; ``2023-06-25`` as the second pair), prints per band:

* RMSE of the naive difference fine(tk) + coarse(t0) - coarse(tk) and of STARFM with the
  shipped package's parameters, and STARFM's error decomposition (bias, error std,
  correlation with the observation, RMSE over "changed" / "unchanged" pixels - |coarse change|
  of the pixel's coarse cell above / below ``--changed`` reflectance - and, where a land-cover
  map exists, per class);
* ablations, one component at a time: similarity threshold (``n_classes``, ``"all"`` vs
  ``"band"``), the uncertainty filter (uncertainties 0, 0.005, 1.0 - 1.0 switches both tests
  off), the spatial weight (``spatial_impact``), log vs product weights, window size, one vs
  two pairs (simulated set), the coarse resampling (bilinear inside the model vs exact block
  replication, passed as ratio-1 inputs), and - not a parameter of the package - each of the two
  tests of the uncertainty filter on its own and the temporal distance in the weight;
* with ``--products``, the per-band RMSE of the demo's fused STARFM and naive products of the
  flood date (``/work/demo-output``; :func:`fusion.evaluation.simulated.score_output`).

Every STARFM figure comes from :func:`fusion.models.classical.starfm.starfm` called directly on
tensors (one ``tf.function`` with XLA per configuration; the package's ``serve`` is the same
call). The two ablations that are not parameters (``temporal_filter``, ``temporal_weight``) use
a copy of that function with one line changed each (:func:`_variant`); the script checks that
the copy with both switches on reproduces the library function.

    PYTHONPATH=. .venv/bin/python benchmarks/starfm_diagnosis.py [--data ../shared/data]
        [--demo /work/demo-output] [--products] [--sets gwydir_flood shenzhen simulated]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import inspect
import sys
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
import tensorflow as tf
from rasterio.errors import NotGeoreferencedWarning

from fusion.evaluation.real import RATIO, default_data_dir, load_real_set
from fusion.grid import block_mean
from fusion.models import get_metadata
from fusion.models.classical import starfm as starfm_module
from fusion.models.classical.starfm import StarfmConfig

F32 = npt.NDArray[np.float32]
SIM_BANDS = ["blue", "green", "red", "nir08", "swir16", "swir22"]


@dataclasses.dataclass
class Case:
    name: str
    bands: list[str]
    fine_tk: F32  #: (H, W, B)
    coarse_tk: F32  #: (H/16, W/16, B)
    coarse_t0: F32
    observed: F32
    landcover: npt.NDArray[np.integer[Any]] | None = None
    classes: dict[int, str] | None = None
    second: tuple[F32, F32] | None = None  #: (fine, coarse) of a second pair
    east: bool = False  #: also score the east half (the hold-out of fusion evaluate real)


# ------------------------------------------------------------------------------------------
# Inputs


def _block(a: F32) -> F32:
    return np.moveaxis(block_mean(np.moveaxis(a, -1, 0), RATIO), 0, -1).astype(np.float32)


def _replicate(a: F32) -> F32:
    return np.repeat(np.repeat(a, RATIO, axis=0), RATIO, axis=1)


def _bilinear(a: F32, like: F32) -> F32:
    out: F32 = tf.image.resize(a[np.newaxis], like.shape[:2], method="bilinear").numpy()[0]
    return out


def real_case(name: str, data_dir: Path) -> Case:
    d = load_real_set(name, data_dir)
    case = Case(name, d.bands, d.fine_reference, d.coarse_reference, d.coarse_target, d.fine_target)
    case.east = True
    if name == "gwydir_flood":
        path = data_dir / name / "Landsat20041126_SVM_classification.bsq"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="FALSE"), rasterio.open(path) as src:
                case.landcover = src.read(1)[: d.spec.size, : d.spec.size]
        case.classes = {k: f"SVM class {k}" for k in (1, 2, 3, 4)}
    return case


def simulated_case(demo: Path) -> Case:
    truth = demo / "scenes" / "truth"

    def read(day: str) -> F32:
        with rasterio.open(truth / f"{day}.tif") as src:
            out: F32 = np.moveaxis(src.read().astype(np.float32) * np.float32(1e-4), 0, -1)
            return out

    fk, f2, obs = read("2023-07-11"), read("2023-06-25"), read("2023-07-14")
    with rasterio.open(truth / "landcover.tif") as src:
        landcover = src.read(1)
    names = ["water", "urban", "bare", "forest", "grass", "wheat", "corn", "soybean"]
    return Case(
        "simulated flood (demo truth 2023-07-11 -> 07-14)",
        SIM_BANDS,
        fk,
        _block(fk),
        _block(obs),
        obs,
        landcover,
        dict(enumerate(names)),
        (f2, _block(f2)),
    )


# ------------------------------------------------------------------------------------------
# Models


def _variant(temporal_filter: bool, temporal_weight: bool) -> types.ModuleType:
    """The STARFM module with the temporal test of the uncertainty filter and/or the temporal
    distance of the weight switched off (a copy of the library source, one line changed each)."""
    source = inspect.getsource(starfm_module)
    edits = []
    if not temporal_filter:
        edits.append(("& (take(tp) < t_limit)", ""))
    if not temporal_weight:
        edits.append(("1.0 / (distance(s) * distance(t))", "1.0 / distance(s)"))
    for old, new in edits:
        if source.count(old) != 1:
            raise RuntimeError(f"starfm.py changed: cannot switch off {old!r}; update this benchmark")
        source = source.replace(old, new)
    module = types.ModuleType(f"starfm_variant_{int(temporal_filter)}{int(temporal_weight)}")
    module.__dict__["__name__"] = module.__name__
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, module.__name__, "exec"), module.__dict__)  # noqa: S102 - our own source
    return module


_VARIANTS: dict[tuple[bool, bool], types.ModuleType] = {}


def run_starfm(
    case: Case,
    cfg: StarfmConfig,
    *,
    coarse: str = "bilinear",
    pairs: int = 1,
    temporal_filter: bool = True,
    temporal_weight: bool = True,
    copy: bool = False,
) -> F32:
    """STARFM of the case's target date. ``coarse="nearest"``: the coarse images are replicated
    16 x 16 onto the fine grid here (ratio-1 inputs), so the model's bilinear resize is the
    identity. ``copy``: use the source copy even with both switches on (the self-check)."""
    key = (temporal_filter, temporal_weight)
    if key == (True, True) and not copy:
        fn: Callable[..., tf.Tensor] = starfm_module.starfm
        cfg_used: Any = cfg
    else:
        if key not in _VARIANTS:
            _VARIANTS[key] = _variant(*key)
        # exec'd source has no file for AutoGraph; the function needs none (explicit while_loop)
        fn = tf.autograph.experimental.do_not_convert(_VARIANTS[key].starfm)
        cfg_used = _VARIANTS[key].StarfmConfig(**cfg.as_json())
    prep = _replicate if coarse == "nearest" else (lambda a: a)
    fines = [case.fine_tk]
    coarses = [prep(case.coarse_tk)]
    if pairs == 2:
        if case.second is None:
            raise ValueError(f"{case.name} has no second pair")
        fines.append(case.second[0])
        coarses.append(prep(case.second[1]))
    n = len(fines)

    def t(a: F32) -> tf.Tensor:
        return tf.constant(a[np.newaxis])

    valid = tf.ones((1, *case.fine_tk.shape[:2], 1))

    def model(c0: tf.Tensor, fs: list[tf.Tensor], cs: list[tf.Tensor]) -> tf.Tensor:
        return fn(c0, fs, cs, [valid] * n, cfg_used)

    call: Callable[..., tf.Tensor] = tf.function(model, jit_compile=True)

    out: F32 = call(t(prep(case.coarse_t0)), [t(f) for f in fines], [t(c) for c in coarses]).numpy()[0]
    return out


def naive(case: Case, coarse: str = "bilinear") -> F32:
    if coarse == "nearest":
        out: F32 = case.fine_tk + _replicate(case.coarse_t0) - _replicate(case.coarse_tk)
    else:
        out = case.fine_tk + _bilinear(case.coarse_t0, case.fine_tk) - _bilinear(case.coarse_tk, case.fine_tk)
    return out


# ------------------------------------------------------------------------------------------
# Scores


def rmse(err: F32, where: npt.NDArray[np.bool_] | None = None) -> F32:
    if where is None:
        out: F32 = np.sqrt(np.mean(err**2, axis=(0, 1)))
        return out
    return np.array(
        [
            np.sqrt(np.mean(err[..., b][where[..., b]] ** 2)) if where[..., b].any() else np.nan
            for b in range(err.shape[-1])
        ],
        np.float32,
    )


def fmt(values: Any, width: int = 7, digits: int = 4) -> str:
    return " ".join(f"{v:{width}.{digits}f}" for v in values)


def decomposition(case: Case, predictions: dict[str, F32], changed: float) -> None:
    obs = case.observed
    change = np.abs(_replicate(case.coarse_t0 - case.coarse_tk))
    moved = change > changed
    print(f"\n## {case.name}: per band ({', '.join(case.bands)})")
    head = " ".join(f"{b:>7}" for b in case.bands)
    print(f"{'':34} {head}   mean")
    print(f"{'share of changed pixels':34} {fmt(moved.mean(axis=(0, 1)), digits=3)}")
    for label, pred in predictions.items():
        err = pred - obs
        r = rmse(err)
        print(f"{label + ' RMSE':34} {fmt(r)} {r.mean():7.4f}")
        if case.east:
            half = obs.shape[1] // 2
            re = rmse(err[:, half:])
            print(f"{label + ' RMSE, east half':34} {fmt(re)} {re.mean():7.4f}")
        print(f"{label + ' bias (pred - obs)':34} {fmt(err.mean(axis=(0, 1)))}")
        print(f"{label + ' error std':34} {fmt(err.std(axis=(0, 1)))}")
        corr = [np.corrcoef(pred[..., b].ravel(), obs[..., b].ravel())[0, 1] for b in range(obs.shape[-1])]
        print(f"{label + ' correlation':34} {fmt(corr)}")
        print(f"{label + f' RMSE |dC| > {changed:g}':34} {fmt(rmse(err, moved))}")
        print(f"{label + f' RMSE |dC| <= {changed:g}':34} {fmt(rmse(err, ~moved))}")
        bias_c = [
            err[..., b][moved[..., b]].mean() if moved[..., b].any() else np.nan for b in range(obs.shape[-1])
        ]
        print(f"{label + ' bias |dC| > ' + f'{changed:g}':34} {fmt(bias_c)}")
    if case.landcover is not None and case.classes is not None:
        print(f"RMSE per land-cover class (share of pixels), {' / '.join(predictions)}:")
        for k, cname in case.classes.items():
            where = np.broadcast_to((case.landcover == k)[..., np.newaxis], obs.shape)
            if not where.any():
                continue
            parts = [fmt(rmse(p - obs, where)) for p in predictions.values()]
            print(f"  {cname:<14} {where[..., 0].mean():5.1%}  " + "  |  ".join(parts))


def ablations(case: Case, shipped: StarfmConfig) -> None:
    print(f"\n### {case.name}: ablations (one change from the shipped parameters)")
    head = " ".join(f"{b:>7}" for b in case.bands)
    print(f"{'':36} {head}   mean | bias per band")

    def row(label: str, pred: F32) -> None:
        err = pred - case.observed
        r = rmse(err)
        print(f"{label:36} {fmt(r)} {r.mean():7.4f} | {fmt(err.mean(axis=(0, 1)))}", flush=True)

    row("naive (bilinear)", naive(case))
    row("naive (block replication)", naive(case, "nearest"))
    rep = dataclasses.replace
    variants: list[tuple[str, StarfmConfig, dict[str, Any]]] = [
        ("STARFM shipped", shipped, {}),
        ("similarity 'band'", rep(shipped, similarity="band"), {}),
        ("n_classes 2", rep(shipped, n_classes=2.0), {}),
        ("n_classes 8", rep(shipped, n_classes=8.0), {}),
        ("n_classes 40", rep(shipped, n_classes=40.0), {}),
        ("uncertainties 0", rep(shipped, fine_uncertainty=0.0, coarse_uncertainty=0.0), {}),
        ("uncertainties 0.005", rep(shipped, fine_uncertainty=0.005, coarse_uncertainty=0.005), {}),
        ("uncertainty filter off (1.0)", rep(shipped, fine_uncertainty=1.0, coarse_uncertainty=1.0), {}),
        ("temporal test off (S test kept)", shipped, {"temporal_filter": False}),
        ("T out of the weight", shipped, {"temporal_weight": False}),
        (
            "temporal test off + T out of weight",
            shipped,
            {"temporal_filter": False, "temporal_weight": False},
        ),
        ("spatial_impact 1", rep(shipped, spatial_impact=1.0), {}),
        ("spatial_impact 1e6 (no D)", rep(shipped, spatial_impact=1e6), {}),
        ("product weights (log_weight off)", rep(shipped, log_weight=False), {}),
        ("window 15", rep(shipped, window=15), {}),
        ("window 61", rep(shipped, window=61), {}),
        ("coarse block-replicated", shipped, {"coarse": "nearest"}),
        ("block-replicated + temporal test off", shipped, {"coarse": "nearest", "temporal_filter": False}),
    ]
    if case.second is not None:
        variants += [
            ("two pairs (+2023-06-25)", shipped, {"pairs": 2}),
            ("two pairs + temporal test off", shipped, {"pairs": 2, "temporal_filter": False}),
        ]
    for label, cfg, kw in variants:
        row(label, run_starfm(case, cfg, **kw))


def demo_products(demo: Path, day: dt.date) -> None:
    from fusion.evaluation.simulated import score_output

    scores = [s for s in score_output(demo / "products", demo / "scenes") if s.date == day]
    print(f"\n## demo products of {day} (fusion pipeline output, scored against the truth)")
    for s in scores:
        bands = " ".join(f"{b} {v:.4f}" for b, v in s.per_band_rmse.items())
        print(
            f"  {s.model:<8} observed {s.truth_date}  scored {s.scored_fraction:.0%}  "
            f"RMSE {s.rmse:.4f}  {bands}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--demo", type=Path, default=Path("/work/demo-output"))
    parser.add_argument("--sets", nargs="+", default=["gwydir_flood", "shenzhen", "simulated"])
    parser.add_argument("--changed", type=float, default=0.02, help="|coarse change| of a changed pixel")
    parser.add_argument("--products", action="store_true", help="also score the demo's flood-date products")
    parser.add_argument("--no-ablations", action="store_true")
    args = parser.parse_args()
    shipped = StarfmConfig(**get_metadata("starfm").parameters)
    print(f"shipped STARFM parameters: {shipped.as_json()}")
    for name in args.sets:
        case = simulated_case(args.demo) if name == "simulated" else real_case(name, args.data)
        predictions = {"naive": naive(case), "STARFM": run_starfm(case, shipped)}
        if name == args.sets[0]:  # the source copy used for two ablations equals the library function
            gap = float(np.abs(run_starfm(case, shipped, copy=True) - predictions["STARFM"]).max())
            print(f"self-check: source copy vs library starfm, max |difference| {gap:.2e}")
            if gap > 1e-6:
                raise RuntimeError("the ablation copy of starfm differs from the library function")
        decomposition(case, predictions, args.changed)
        if not args.no_ablations:
            ablations(case, shipped)
    if args.products:
        demo_products(args.demo, dt.date(2023, 7, 12))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
