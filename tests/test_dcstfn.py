"""DCSTFN (seed 001): architecture, training set, trainer, package, pipeline and real-data split."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fusion.errors import ConfigError, UnknownNameError
from fusion.grid import Window
from fusion.models import PACKAGES_DIR, export_model, get_model
from fusion.models.dcstfn.network import SEED_PARAMETERS, DcstfnConfig, build_dcstfn, trainable_parameters
from fusion.models.package import load_model_package
from fusion.pairing import PairingConfig
from fusion.training.patches import PatchConfig
from fusion.training.splits import SplitConfig, area_boundary, assign_split
from tests.pipeline_fixtures import PIPE_TILE, pipe_request

D = dt.date


def test_single_band_seed_model_has_408961_trainable_parameters() -> None:
    model = build_dcstfn(DcstfnConfig((32, 64, 128), bands=1))
    assert trainable_parameters(model) == SEED_PARAMETERS == 408_961


def test_shapes_follow_the_seed_figure_and_any_multiple_of_16() -> None:
    model = build_dcstfn(DcstfnConfig((4, 8, 8), bands=6))
    for coarse, fine in ((10, 160), (3, 48)):
        x = {
            "coarse_t0": np.zeros((2, coarse, coarse, 6), np.float32),
            "fine_tk1": np.zeros((2, fine, fine, 6), np.float32),
            "coarse_tk1": np.zeros((2, coarse, coarse, 6), np.float32),
        }
        assert model(x).shape == (2, fine, fine, 6)
    # The coarse sub-network is shared: one set of weights serves both coarse inputs.
    assert [layer.name for layer in model.layers].count("coarse_subnet") == 1


def test_naive_residual_network_starts_as_the_naive_package_and_adds_no_parameters() -> None:
    rng = np.random.default_rng(1)
    x = {
        "coarse_t0": rng.uniform(0, 0.5, (2, 10, 10, 6)).astype(np.float32),
        "fine_tk1": rng.uniform(0, 0.5, (2, 160, 160, 6)).astype(np.float32),
        "coarse_tk1": rng.uniform(0, 0.5, (2, 10, 10, 6)).astype(np.float32),
    }
    naive = get_model("naive").predict({**x, "valid_tk1": np.ones((2, 160, 160, 1), np.float32)})
    model = build_dcstfn(DcstfnConfig((4, 8, 8), bands=6, naive_residual=True))
    np.testing.assert_allclose(model(x).numpy(), naive, atol=1e-6)
    plain = build_dcstfn(DcstfnConfig((4, 8, 8), bands=6))
    assert trainable_parameters(model) == trainable_parameters(plain)
    with pytest.raises(ConfigError, match="not both"):
        DcstfnConfig(residual=True, naive_residual=True)
    # The fine skip also starts as the naive package; it adds one 3 x 3 convolution d0 on
    # fine(tk) and d0 more inputs to the first 1 x 1 layer.
    skip = build_dcstfn(DcstfnConfig((4, 8, 8), bands=6, naive_residual=True, fine_skip=True))
    np.testing.assert_allclose(skip(x).numpy(), naive, atol=1e-6)
    assert trainable_parameters(skip) - trainable_parameters(plain) == 4 * (9 * 6 + 1) + 4 * 4


def test_split_rules_keep_validation_dates_and_area_out_of_training() -> None:
    val = frozenset({D(2022, 5, 8)})
    boundary = area_boundary(1024, SplitConfig(validation_area=0.25), 16)
    assert boundary == 768
    west, east = Window(0, 600, 160, 160), Window(0, 800, 160, 160)
    straddling = Window(0, 700, 160, 160)
    assert assign_split((D(2022, 6, 9), D(2022, 6, 25)), west, boundary, val) == "train"
    assert assign_split((D(2022, 5, 8), D(2022, 6, 9)), east, boundary, val) == "validation"
    # A validation date never trains, not even as the reference; the east never trains.
    assert assign_split((D(2022, 6, 9), D(2022, 5, 8)), west, boundary, val) is None
    assert assign_split((D(2022, 6, 9), D(2022, 6, 25)), straddling, boundary, val) is None
    assert assign_split((D(2022, 6, 9), D(2022, 6, 25)), east, boundary, val) is None
    assert assign_split((D(2022, 5, 8), D(2022, 6, 9)), west, boundary, val) is None


@pytest.fixture(scope="module")
def clear_scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pipeline tests' area with fewer clouds, so that four dates give clear pairs."""
    from fusion.simulate import simulate
    from tests.pipeline_fixtures import PIPE_SIM

    scenes = tmp_path_factory.mktemp("clear") / "scenes"
    simulate(dataclasses.replace(PIPE_SIM, mean_cloudiness=0.1), scenes)
    return scenes


def _small_spec(**overrides: Any) -> Any:
    from pipelines.trainset import TrainsetSpec

    fields: dict[str, Any] = {
        "bands": ("blue", "green", "red", "nir08", "swir16", "swir22"),
        # 64 px patches so that a 256 px tile has a training and a validation strip.
        "patches": PatchConfig(patch=4, stride=2, ratio=16, min_valid=0.5),
        "split": SplitConfig(validation_every=2, validation_area=0.25),
        "train_shards": 2,
    }
    fields.update(overrides)
    return TrainsetSpec(**fields)


@pytest.fixture(scope="module")
def trainset(clear_scenes: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines.trainset import run_trainset

    out = tmp_path_factory.mktemp("trainset")
    request = pipe_request(clear_scenes, out, tile_size=256, pairing=PairingConfig(max_gap_days=64))
    run_trainset(request, _small_spec(), out)
    return out


@pytest.mark.slow
def test_training_set_pipeline_splits_by_date_and_area_without_leaks(trainset: Path) -> None:
    manifest = json.loads((trainset / "manifest.json").read_text())
    assert len(manifest["dates"]["train"]) >= 2, manifest
    assert manifest["examples"]["train"] > 0 and manifest["examples"]["validation"] > 0
    records = [json.loads(x) for f in trainset.glob("index-*.jsonl") for x in f.read_text().splitlines()]
    assert len(records) == manifest["examples"]["train"] + manifest["examples"]["validation"]
    val_dates = set(manifest["target_dates"]["validation"])
    boundary = area_boundary(256, SplitConfig(validation_area=0.25), 16)
    for r in records:
        _row, col, h, w = r["window"]
        assert (h, w) == (64, 64)
        if r["split"] == "train":
            assert r["t0"] not in val_dates and r["tk"] not in val_dates, r
            assert col + w <= boundary, r
        else:
            assert r["t0"] in val_dates and col >= boundary, r
    assert len(list(trainset.glob("train-*-of-00002.tfrecord.gz"))) == 2
    assert manifest["dead_letters"] == 0


@pytest.mark.slow
def test_truth_labelled_training_set_has_the_pipelines_gaps_and_the_simulated_truth_as_label(
    clear_scenes: Path, trainset: Path, tmp_path: Path
) -> None:
    import rasterio
    import tensorflow as tf

    from fusion.grid import utm_grid
    from fusion.simulate import TRUTH_BANDS, read_truth
    from fusion.training.dataset import TrainingSet
    from fusion.training.patches import parse_examples
    from pipelines.trainset import run_trainset

    request = pipe_request(clear_scenes, tmp_path, tile_size=256, pairing=PairingConfig(max_gap_days=64))
    # Held-out composites also hold out their Landsat pair, so hold out fewer than every 2nd.
    split = SplitConfig(validation_every=4, validation_area=0.25)
    manifest = run_trainset(request, _small_spec(truth=str(clear_scenes / "truth"), split=split), tmp_path)
    assert manifest["labels"] == f"simulated truth ({clear_scenes / 'truth'})"
    merged = TrainingSet.open_many([trainset, tmp_path]).manifest
    assert merged["labels"] == ["fine observations", manifest["labels"]]
    assert manifest["dead_letters"] == 0
    records = [json.loads(x) for f in tmp_path.glob("index-*.jsonl") for x in f.read_text().splitlines()]
    assert {r["split"] for r in records} == {"train", "validation"}
    # Every MODIS composite (8 days) is a target, not only those with a Landsat image (16): the
    # gaps to the reference Landsat are the pipeline's, shorter than the Landsat revisit.
    gaps = {abs((D.fromisoformat(r["t0"]) - D.fromisoformat(r["key"].split("/")[2])).days) for r in records}
    assert min(gaps) < 16, gaps
    assert len({r["t0"] for r in records}) > len({r["key"].split("/")[2] for r in records})
    val_dates = set(manifest["target_dates"]["validation"])
    for r in records:
        if r["split"] == "train":
            assert r["t0"] not in val_dates and r["tk"] not in val_dates, r
    # A stored label is the simulated truth of a day inside its target's composite period.
    dates = json.loads((clear_scenes / "truth" / "truth.json").read_text())["dates"]
    tile = utm_grid(32614, 30.0, 256).tile_by_id(PIPE_TILE).transform
    with rasterio.open(clear_scenes / "truth" / f"{dates[0]}.tif") as src:
        # The tile's corner in the truth's pixels (the simulation has a margin around the area).
        top, left = round((src.transform.f - tile.f) / 30.0), round((tile.c - src.transform.c) / 30.0)
    ds = tf.data.TFRecordDataset(sorted(str(p) for p in tmp_path.glob("train-*.tfrecord.gz")), "GZIP")
    serialized = next(iter(ds))
    key = tf.io.parse_single_example(serialized, {"key": tf.io.FixedLenFeature([], tf.string)})["key"]
    _tile, t0, _tk, corner = key.numpy().decode().split("/")
    row, col = (int(v) for v in corner.split("-"))
    _inputs, label = parse_examples(serialized, 4, 64, len(TRUTH_BANDS))
    target, mask = label.numpy()[..., :-1], label.numpy()[..., -1] > 0
    assert mask.mean() >= 0.5
    matches = []
    for day in (D.fromisoformat(d) for d in dates):
        rows, cols = slice(top + row, top + row + 64), slice(left + col, left + col + 64)
        truth = np.moveaxis(read_truth(clear_scenes, day)[:, rows, cols], 0, -1)
        if np.allclose(truth[mask], target[mask], atol=1e-6):
            matches.append(day)
    start = D.fromisoformat(t0)
    assert len(matches) == 1 and start <= matches[0] <= start + dt.timedelta(days=7), (t0, matches)


def test_training_set_refuses_a_truth_folder_that_is_not_one(pipe_scenes: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pipelines.cli import main

    args = ["training-set", "--catalog", str(pipe_scenes), "--out", str(tmp_path / "ts")]
    args += ["--start", "2023-06-01", "--end", "2023-07-31", "--truth", str(pipe_scenes)]
    out = CliRunner().invoke(main, args)
    assert out.exit_code != 0
    assert f"--truth {pipe_scenes}: no truth.json there" in out.output


def test_training_set_refuses_a_split_narrower_than_a_patch(pipe_scenes: Path, tmp_path: Path) -> None:
    from pipelines.trainset import TrainsetSpec, run_trainset

    spec = TrainsetSpec(("red",), PatchConfig(), SplitConfig())
    with pytest.raises(ConfigError, match="narrower than one 160 px patch"):
        run_trainset(pipe_request(pipe_scenes, tmp_path, tile_size=256), spec, tmp_path)


@pytest.mark.slow
def test_trainer_exports_a_package_whose_signature_matches_its_metadata(
    trainset: Path, tmp_path: Path
) -> None:
    from fusion.models.dcstfn.export import export_dcstfn
    from fusion.models.dcstfn.trainer import TrainConfig, train_dcstfn, validation_scores
    from fusion.training.dataset import TrainingSet

    data = TrainingSet.open(trainset)
    cfg = TrainConfig(features=(4, 8, 8), epochs=2, batch_size=4, max_minutes=None)
    result = train_dcstfn(data, cfg, tmp_path / "work")
    assert result.epochs == [2] and len(result.history[0]["val_loss"]) == 2
    assert (tmp_path / "work" / "network-0" / "checkpoints" / "best.weights.h5").is_file()
    assert list((tmp_path / "work" / "network-0" / "logs").rglob("events.out.tfevents.*"))
    result.scores = validation_scores(result, data, cfg.variant)
    pkg = export_dcstfn(tmp_path / "pkg", result, cfg, data, "test")
    model = load_model_package(pkg)  # refuses a signature that contradicts the metadata
    meta = model.metadata
    assert [s.name for s in meta.inputs] == ["coarse_t0", "fine_tk1", "coarse_tk1"]
    assert meta.coarse_ratio == 16 and meta.parameters["variant"] == "multi-band"
    assert set(meta.scores["validation"]["model"]["per_band"]["rmse"]) == set(meta.bands)
    x = {
        "coarse_t0": np.full((1, 4, 4, 6), 0.2, np.float32),
        "fine_tk1": np.full((1, 64, 64, 6), 0.2, np.float32),
        "coarse_tk1": np.full((1, 4, 4, 6), 0.2, np.float32),
    }
    out = model.predict(x)
    assert out.shape == (1, 64, 64, 6) and np.isfinite(out).all()
    # The per-band variant: one single-band network per band.
    per_band = TrainConfig(variant="per-band", features=(4, 8, 8), epochs=1, batch_size=4, max_minutes=None)
    r2 = train_dcstfn(data, per_band, tmp_path / "work2")
    assert len(r2.models) == 6 and all(m.output_shape[-1] == 1 for m in r2.models)


@pytest.mark.slow
def test_naive_residual_package_exports_and_reloads_for_fine_tuning(trainset: Path, tmp_path: Path) -> None:
    from fusion.models.dcstfn.export import export_dcstfn, load_networks
    from fusion.models.dcstfn.trainer import TrainConfig, predict_normalized, train_dcstfn
    from fusion.training.dataset import TrainingSet

    data = TrainingSet.open(trainset)
    cfg = TrainConfig(features=(4, 8, 8), naive_residual=True, epochs=1, batch_size=4, max_minutes=None)
    result = train_dcstfn(data, cfg, tmp_path / "work")
    pkg = export_dcstfn(tmp_path / "pkg", result, cfg, data, "test")
    model = load_model_package(pkg)
    assert model.metadata.parameters["naive_residual"] is True
    rng = np.random.default_rng(5)
    x = {  # an odd size: the serving signature has unknown height and width
        "coarse_t0": rng.uniform(0.1, 0.3, (1, 3, 5, 6)).astype(np.float32),
        "fine_tk1": rng.uniform(0.1, 0.3, (1, 48, 80, 6)).astype(np.float32),
        "coarse_tk1": rng.uniform(0.1, 0.3, (1, 3, 5, 6)).astype(np.float32),
    }
    served = model.predict(x)
    reloaded = load_networks(pkg)
    direct = predict_normalized(reloaded, "multi-band", result.normalization, x).numpy()
    np.testing.assert_allclose(served, direct, atol=1e-5)


@pytest.mark.slow
def test_band_scaled_calibrated_two_pair_package_averages_the_network_over_usable_pairs(
    trainset: Path, tmp_path: Path
) -> None:
    from fusion.models.dcstfn.export import export_dcstfn, load_networks
    from fusion.models.dcstfn.trainer import TrainConfig, predict_normalized, train_dcstfn
    from fusion.training.dataset import TrainingSet
    from fusion.training.normalization import Normalization, normalization_of

    data = TrainingSet.open(trainset)
    cfg = TrainConfig(
        features=(4, 8, 8),
        naive_residual=True,
        fine_skip=True,
        band_scale=True,
        augment=True,
        calibrate_bias=True,
        reference_pairs=2,
        epochs=1,
        batch_size=4,
        max_minutes=None,
    )
    result = train_dcstfn(data, cfg, tmp_path / "work")
    norm = result.normalization
    # After the bias calibration the mean residual of every band over the training split is 0.
    assert result.bias_shift is not None and len(result.bias_shift) == 6
    residual_sum, pixels = np.zeros(6), 0
    for x, y in data.dataset("train").batch(8).as_numpy_iterator():
        out = predict_normalized(result.models, "multi-band", norm, x).numpy()
        mask = y[..., -1] > 0
        residual_sum += (y[..., :-1] - out)[mask].sum(axis=0)
        pixels += int(mask.sum())
    np.testing.assert_allclose(residual_sum / pixels, 0.0, atol=2e-5)
    # One standard deviation per band, of the training labels' valid pixels.
    labels = np.concatenate(
        [y[..., :-1][y[..., -1] > 0] for _x, y in data.dataset("train").as_numpy_iterator()]
    )
    np.testing.assert_allclose(norm.scales(), labels.std(axis=0), rtol=1e-3)
    assert normalization_of(data.dataset("train"), 6).per_band is False
    assert Normalization.from_json(norm.as_json()) == norm
    assert norm.subset([3, 1]).scales() == [norm.scales()[3], norm.scales()[1]]

    pkg = export_dcstfn(tmp_path / "pkg", result, cfg, data, "test")
    model = load_model_package(pkg)
    meta = model.metadata
    assert meta.reference_pairs == (1, 2) and meta.normalization["type"] == "band-mean-band-scale"
    assert meta.parameters["fine_skip"] is True
    assert [s.name for s in meta.inputs if s.role == "valid"] == ["valid_tk1", "valid_tk2"]
    rng = np.random.default_rng(7)

    def image(h: int, w: int) -> np.ndarray:
        return rng.uniform(0.05, 0.4, (1, h, w, 6)).astype(np.float32)

    x = {"coarse_t0": image(3, 4)}
    for k in (1, 2):
        x[f"fine_tk{k}"], x[f"coarse_tk{k}"] = image(48, 64), image(3, 4)
    valid2 = np.zeros((1, 48, 64, 1), np.float32)
    valid2[:, :, 32:] = 1.0  # pair 2 usable on the east half only
    x["valid_tk1"], x["valid_tk2"] = np.ones_like(valid2), valid2
    served = model.predict(x)
    networks = load_networks(pkg)

    def one(k: int) -> np.ndarray:
        pair = {"coarse_t0": x["coarse_t0"], "fine_tk1": x[f"fine_tk{k}"], "coarse_tk1": x[f"coarse_tk{k}"]}
        return predict_normalized(networks, "multi-band", norm, pair).numpy()

    p1, p2 = one(1), one(2)
    np.testing.assert_allclose(served[:, :, :32], p1[:, :, :32], atol=1e-5)
    np.testing.assert_allclose(served[:, :, 32:], (p1[:, :, 32:] + p2[:, :, 32:]) / 2, atol=1e-5)


def test_augmentation_turns_coarse_and_fine_patches_alike() -> None:
    import tensorflow as tf

    from fusion.models.dcstfn.trainer import _augment

    rng = np.random.default_rng(11)
    coarse = rng.normal(size=(10, 10, 2)).astype(np.float32)
    fine = np.repeat(np.repeat(coarse, 16, axis=0), 16, axis=1)  # each coarse pixel's 16 x 16 block
    label = np.concatenate([fine, np.ones((160, 160, 1), np.float32)], axis=-1)
    augment = _augment(0)
    seen = set()
    for _ in range(40):
        x, y = augment({"coarse_t0": tf.constant(coarse), "fine_tk1": tf.constant(fine)}, tf.constant(label))
        c, f = x["coarse_t0"].numpy(), x["fine_tk1"].numpy()
        np.testing.assert_array_equal(f, np.repeat(np.repeat(c, 16, axis=0), 16, axis=1))
        np.testing.assert_array_equal(y.numpy()[..., :2], f)
        seen.add(c.tobytes())
    assert len(seen) == 8  # all flips and quarter turns occur


def test_several_training_sets_train_as_one_and_must_agree_on_bands(trainset: Path, tmp_path: Path) -> None:
    import json
    import shutil

    from fusion.training.dataset import TrainingSet

    one = TrainingSet.open(trainset)
    other = tmp_path / "other-year"
    shutil.copytree(trainset, other)
    both = TrainingSet.open_many([trainset, other])
    for split in ("train", "validation"):
        assert both.manifest["examples"][split] == 2 * one.manifest["examples"][split]
        assert sorted(both.files(split)) == sorted(
            one.files(split) + [str(other / Path(f).name) for f in one.files(split)]
        )
        assert sum(1 for _ in both.dataset(split)) == 2 * one.manifest["examples"][split]
    assert both.manifest["sets"] == [str(trainset), str(other)]
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["bands"] = manifest["bands"][:3]
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match="differ in bands"):
        TrainingSet.open_many([trainset, other])


@pytest.mark.slow
def test_fusion_train_dcstfn_trains_and_exports_a_package(trainset: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pipelines.cli import main

    args = ["train", "dcstfn", "--data", str(trainset), "--out", str(tmp_path / "pkg"), "--features", "4,8,8"]
    out = CliRunner().invoke(main, [*args, "--epochs", "1", "--batch-size", "4", "--seed", "3", "-q"])
    assert out.exit_code == 0, out.output
    assert "epochs [1]" in out.output and f"package: {tmp_path / 'pkg'}" in out.output
    meta = load_model_package(tmp_path / "pkg").metadata
    assert meta.parameters["features"] == [4, 8, 8] and meta.training["config"]["seed"] == 3
    manifest = json.loads((trainset / "manifest.json").read_text())
    assert meta.training["trainset"]["catalog"] == manifest["catalog"]


def test_shipped_dcstfn_package_loads_and_says_how_it_was_trained() -> None:
    model = get_model("dcstfn")
    meta = model.metadata
    assert meta.name == "dcstfn" and meta.coarse_ratio == 16
    assert meta.parameters["features"] == [32, 64, 128]
    assert meta.training["command"].startswith("fusion train")
    assert meta.training["seconds"] <= 20 * 60
    assert (PACKAGES_DIR / "dcstfn" / "keras").is_dir()
    with pytest.raises(UnknownNameError, match="trained, not exported"):
        export_model("dcstfn", Path("unused"))


@pytest.mark.slow
def test_pipeline_runs_end_to_end_with_the_dcstfn_package(pipe_scenes: Path, tmp_path: Path) -> None:
    from pipelines.run import run_fusion

    request = pipe_request(pipe_scenes, tmp_path / "out", model="dcstfn")
    summary = run_fusion(request, tmp_path / "report")
    assert summary.written, summary.text()
    assert not [r for r in summary.dead_letters if r["kind"] == "failed"], summary.text()
    item = json.loads(
        next((tmp_path / "out").glob(f"eo-fusion-spatiotemporal-dcstfn/{PIPE_TILE}/*/*.json")).read_text()
    )
    assert item["properties"]["eo-fusion:model"]["name"] == "dcstfn"


@pytest.mark.parametrize(("naive_residual", "fine_skip"), [(False, False), (True, False), (True, True)])
def test_band_subset_network_equals_the_full_network_with_missing_bands_at_their_mean(
    naive_residual: bool, fine_skip: bool
) -> None:
    from fusion.models.dcstfn.subset import band_subset_network

    full = build_dcstfn(DcstfnConfig((4, 8, 8), bands=6, naive_residual=naive_residual, fine_skip=fine_skip))
    rng = np.random.default_rng(3)
    for w in full.weights:  # non-trivial biases too
        w.assign(rng.normal(0, 0.2, w.shape).astype(np.float32))
    idx = [1, 2, 3]
    sub = band_subset_network(full, idx)
    x3 = {
        "coarse_t0": rng.normal(size=(1, 3, 3, 3)).astype(np.float32),
        "fine_tk1": rng.normal(size=(1, 48, 48, 3)).astype(np.float32),
        "coarse_tk1": rng.normal(size=(1, 3, 3, 3)).astype(np.float32),
    }
    x6 = {}
    for k, v in x3.items():
        z = np.zeros((*v.shape[:3], 6), np.float32)  # zero = the band mean after normalization
        z[..., idx] = v
        x6[k] = z
    np.testing.assert_allclose(np.asarray(sub(x3)), np.asarray(full(x6))[..., idx], atol=1e-5)


REAL = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(
    not (REAL / "gwydir_flood").is_dir(), reason="shared/data/gwydir_flood is not beside the checkout"
)
def test_gwydir_on_site_training_set_never_touches_the_hold_out(tmp_path: Path) -> None:
    import tensorflow as tf

    from fusion.evaluation.real import holdout_boundary, load_real_set, site_training_set

    data = load_real_set("gwydir_flood", REAL)
    assert data.fine_target.shape == (480, 480, 3) and data.coarse_target.shape == (30, 30, 3)
    # "MODIS" is exact 16 x 16 block means of Landsat: the coarse grid is recovered exactly.
    assert np.allclose(
        data.coarse_reference[0, 0], data.fine_reference[:16, :16].mean(axis=(0, 1)), atol=2e-3
    )
    manifest = site_training_set(data, tmp_path, holdout=0.5, stride=2)
    boundary = holdout_boundary(480, 0.5)
    assert boundary == 240
    for split in ("train", "validation"):
        keys = []
        for record in tf.data.TFRecordDataset(str(tmp_path / f"{split}-00000-of-00001.tfrecord.gz"), "GZIP"):
            ex = tf.train.Example.FromString(record.numpy())
            keys.append(ex.features.feature["key"].bytes_list.value[0].decode())
        assert len(keys) == manifest["examples"][split] > 0
        for key in keys:
            row, col = (int(v) for v in key.rsplit("/", 1)[1].split("-"))
            assert col + 160 <= boundary, key
            assert (row + 160 > 320) == (split == "validation"), key
