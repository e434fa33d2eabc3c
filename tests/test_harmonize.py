"""The harmonize task (seed 002): MGAN shapes and losses, the bandpass baseline, jobs, the
pipeline end to end, and a short training run whose package the pipeline uses."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fusion.errors import ConfigError
from fusion.models.mgan.network import (
    BUFFER,
    PATCH,
    DiffAugment,
    MganConfig,
    build_discriminator,
    build_generator,
    predict_block,
    relativistic_losses,
)
from fusion.pairing import Observation, PairingConfig
from fusion.simulate import SimulationConfig, SimulationResult, simulate
from fusion.tasks.harmonize import HLS_BANDPASS, OUTPUT_BANDS, PLATFORMS, harmonize_jobs, reduce_mask
from tests.helpers import is_valid_cog, stac_validate_recursive

TILE = "14N-0080-0752"  # the 256 px tile of the small simulations (7.68 km)
TINY = MganConfig(
    bottom_filters=4,
    generator_filters=(4, 8, 8, 8, 8, 8, 8),
    discriminator_filters=(4, 8, 8, 8),
)


# ------------------------------------------------------------------------------------------
# Networks


def test_generator_and_discriminator_shapes_at_the_seed_patch_sizes() -> None:
    import keras

    generator = build_generator(MganConfig())
    discriminator = build_discriminator(MganConfig())
    x10 = np.zeros((2, 384, 384, 4), np.float32)
    x20 = np.zeros((2, 192, 192, 2), np.float32)
    y = generator([x10, x20])
    assert tuple(y.shape) == (2, 128, 128, 6)
    logits = discriminator([y, y])
    assert logits.shape[0] == 2 and logits.shape[-1] == 1 and logits.shape[1] == logits.shape[2] > 1
    # Seed 002: no instance (or any) normalization in the generator; spectral normalization
    # (after instance normalization) in the discriminator's down-sampling blocks.
    norms = (
        keras.layers.GroupNormalization,
        keras.layers.BatchNormalization,
        keras.layers.LayerNormalization,
    )
    assert not [layer for layer in generator.layers if isinstance(layer, norms)]
    spectral = [
        layer for layer in discriminator.layers if isinstance(layer, keras.layers.SpectralNormalization)
    ]
    instance = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.GroupNormalization)]
    assert len(spectral) == 3 and len(instance) == 3
    # One bottom layer per input resolution, concatenated before the encoder-decoder.
    names = [layer.name for layer in generator.layers]
    assert {"bottom_10m", "bottom_20m", "bottom"} <= set(names)


def test_residual_generator_starts_from_the_input_on_the_landsat_normalization() -> None:
    """The shipped generator adds its (zero-initialized) output to Sentinel-2 area-averaged to
    30 m and mapped by residual_map onto the Landsat normalization: before training it
    predicts raw Sentinel-2 reflectance exactly, whatever the normalizations."""
    from fusion.models.classical.bandpass import area_average
    from fusion.models.mgan.data import residual_map
    from fusion.models.mgan.network import BandNormalization, Normalizations

    rng = np.random.default_rng(3)

    def norm(n: int) -> BandNormalization:
        mean, scale = tuple(rng.uniform(0.05, 0.3, n)), tuple(rng.uniform(0.1, 0.5, n))
        return BandNormalization(mean, mean, mean, scale, clip=False)

    norms = Normalizations(norm(4), norm(2), norm(6))
    small = dict(bottom_filters=4, generator_filters=(4,) * 7, discriminator_filters=(4,) * 4)
    scale, offset = residual_map(norms)
    generator = build_generator(MganConfig(**small, residual_scale=scale, residual_offset=offset))
    s2_10m = rng.uniform(0.0, 0.6, (1, 384, 384, 4)).astype(np.float32)
    s2_20m = rng.uniform(0.0, 0.6, (1, 192, 192, 2)).astype(np.float32)
    y = generator([norms.s2_10m.apply_numpy(s2_10m), norms.s2_20m.apply_numpy(s2_20m)]).numpy()
    predicted = y * np.asarray(norms.landsat.scale, np.float32) + np.asarray(norms.landsat.mean, np.float32)
    np.testing.assert_allclose(predicted, area_average(s2_10m, s2_20m).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="residual_scale"):
        build_generator(MganConfig(**small, residual_scale=(1.0,) * 6, residual_offset=(0.0,)))


def test_flip_rotate_moves_inputs_target_and_mask_together() -> None:
    from fusion.models.mgan.data import flip_rotate as _flip_rotate

    rng = np.random.default_rng(0)
    base = rng.uniform(size=(2, 8, 8, 1)).astype(np.float32)
    # the 10 m, 20 m, target and mask arrays of one batch, here at the same size
    arrays = (base, base * 2, base * 3, base > 0.5)
    for _ in range(8):
        out = _flip_rotate(arrays, rng)
        np.testing.assert_array_equal(out[1], out[0] * 2)
        np.testing.assert_array_equal(out[2], out[0] * 3)
        np.testing.assert_array_equal(out[3], out[0] > 0.5)
        assert sorted(out[0].ravel()) == sorted(base.ravel())


def test_relativistic_losses_follow_seed_equations_3_and_4() -> None:
    import tensorflow as tf

    real = tf.constant([[1.0], [2.0]])
    fake = tf.constant([[0.5], [-1.0]])
    loss_d, loss_g = relativistic_losses(real, fake)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    r, f = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    d_rf, d_fr = sig(r - f.mean()), sig(f - r.mean())
    expect_d = -np.mean(np.log(d_rf)) - np.mean(np.log(1 - d_fr))
    expect_g = -np.mean(np.log(1 - d_rf)) - np.mean(np.log(d_fr))
    assert float(loss_d) == pytest.approx(expect_d, rel=1e-5)
    assert float(loss_g) == pytest.approx(expect_g, rel=1e-5)


def test_diff_augment_keeps_shapes_and_zero_pads_translations() -> None:
    import tensorflow as tf

    tf.random.set_seed(1)
    x = tf.ones((3, 32, 32, 12))
    for policy in ("color", "translation", "cutout"):
        out = DiffAugment(policies=(policy,))(x)
        assert out.shape == x.shape
    moved = DiffAugment(policies=("translation",))(x).numpy()
    assert set(np.unique(moved)) <= {0.0, 1.0}
    cut = DiffAugment(policies=("cutout",))(x).numpy()
    assert np.all((cut == 0).mean(axis=(1, 2, 3)) > 0.1)  # a quarter of each image is cut


def test_predict_block_uses_patch_centres_and_covers_any_block_size() -> None:
    """With a pixel-wise 'generator' (the 30 m area average), stitching patch centres must
    give the whole-block result exactly, for blocks that are not multiples of the stride."""
    import keras
    import tensorflow as tf

    from fusion.models.classical.bandpass import area_average

    x10 = keras.Input((384, 384, 4))
    x20 = keras.Input((192, 192, 2))
    pixelwise = keras.Model([x10, x20], keras.layers.Lambda(lambda t: area_average(t[0], t[1]))([x10, x20]))
    rng = np.random.default_rng(0)
    for h, w in ((320, 320), (200, 136), (128, 128)):
        a10 = rng.random((2, 3 * h, 3 * w, 4), dtype=np.float32)
        a20 = rng.random((2, 3 * h // 2, 3 * w // 2, 2), dtype=np.float32)
        out = predict_block(pixelwise, tf.constant(a10), tf.constant(a20)).numpy()
        whole = area_average(tf.constant(a10), tf.constant(a20)).numpy()
        assert out.shape == (2, h, w, 6)
        inner = (slice(None), slice(BUFFER, h - BUFFER), slice(BUFFER, w - BUFFER))
        np.testing.assert_allclose(out[inner], whole[inner], atol=1e-6)
    assert PATCH == 128 and BUFFER == PATCH // 4


# ------------------------------------------------------------------------------------------
# Bandpass baseline


def test_area_average_weighs_20m_pixels_by_area() -> None:
    import tensorflow as tf

    from fusion.models.classical.bandpass import area_average

    x10 = np.arange(36, dtype=np.float32).reshape(1, 6, 6, 1).repeat(4, axis=-1)
    x20 = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]], np.float32).reshape(1, 3, 3, 1)
    out = area_average(tf.constant(x10), tf.constant(np.concatenate([x20, x20], -1))).numpy()
    assert out.shape == (1, 2, 2, 6)
    assert out[0, 0, 0, 0] == pytest.approx(x10[0, :3, :3, 0].mean())
    # The top-left 30 m pixel covers 20 m pixel (0,0) whole, half of (0,1) and (1,0), a quarter of (1,1).
    expect = (4 * 1 + 2 * 2 + 2 * 4 + 1 * 5) / 9
    assert out[0, 0, 0, 4] == pytest.approx(expect)


def test_bandpass_package_applies_the_platforms_hls_coefficients() -> None:
    from fusion.models import get_model

    model = get_model("bandpass")
    assert model.metadata.task == "harmonize" and model.metadata.bands == OUTPUT_BANDS
    rng = np.random.default_rng(2)
    x10 = rng.uniform(0, 0.5, (3, 6, 12, 4)).astype(np.float32)
    x20 = rng.uniform(0, 0.5, (3, 3, 6, 2)).astype(np.float32)
    platform = np.eye(3, dtype=np.float32)[:, None, None, :]  # 2A, 2B, 2C
    out = model.predict({"s2_10m": x10, "s2_20m": x20, "platform": platform})
    assert out.shape == (3, 2, 4, 6)
    ten = x10.reshape(3, 2, 3, 4, 3, 4).mean(axis=(2, 4))
    twenty = x20.repeat(2, axis=1).repeat(2, axis=2).reshape(3, 2, 3, 4, 3, 2).mean(axis=(2, 4))
    resampled = np.concatenate([ten, twenty], axis=-1)
    for i, name in enumerate(PLATFORMS):
        coeffs = HLS_BANDPASS["sentinel-2a" if name == "sentinel-2c" else name]
        slope = np.array([coeffs[b][0] for b in OUTPUT_BANDS])
        offset = np.array([coeffs[b][1] for b in OUTPUT_BANDS])
        np.testing.assert_allclose(out[i], resampled[i] * slope + offset, atol=1e-6)


def test_reduce_mask_needs_every_source_pixel_of_an_output_pixel() -> None:
    from fractions import Fraction

    ten = np.ones((6, 6), bool)
    ten[4, 1] = False
    assert reduce_mask(ten, Fraction(3)).tolist() == [[True, True], [False, True]]
    twenty = np.ones((3, 3), bool)
    twenty[1, 1] = False  # the centre 20 m pixel touches all four 30 m pixels
    assert not reduce_mask(twenty, Fraction(3, 2)).any()


# ------------------------------------------------------------------------------------------
# Jobs


def _obs(scene_id: str, day: dt.date, clear: float, role: str = "source") -> Observation:
    from fusion.catalog import Projection, Scene

    when = dt.datetime.combine(day, dt.time(17), dt.UTC)
    scene = Scene(
        scene_id, "sentinel-2-l2a", "sentinel-2-msi", when, when, when, (0, 0, 1, 1), {}, None, {}, None,
        {}, {}, Projection(32614, None, None, None),
    )  # fmt: skip
    return Observation(scene, role, "T", clear)


def test_harmonize_jobs_one_per_clear_date_with_reasons_for_the_rest() -> None:
    d = dt.date(2023, 6, 1)
    obs = [
        _obs("a", d, 0.9),
        _obs("b", d, 0.95),  # same day, clearer: chosen
        _obs("c", d + dt.timedelta(5), 0.2),  # too cloudy
        _obs("e", d + dt.timedelta(10), 0.6),
        _obs("f", d + dt.timedelta(40), 0.9),  # outside the period
        _obs("L", d + dt.timedelta(10), 0.9, role="fine"),  # Landsat: not a job
    ]
    jobs, skips = harmonize_jobs(obs, PairingConfig(), (d, d + dt.timedelta(20)))
    assert [(j.target.scene.id, j.pairs) for j in jobs] == [("b", ()), ("e", ())]
    reasons = {s.scene_id: s.reason for s in skips}
    assert set(reasons) == {"a", "c"}
    assert "covers more of the tile: b" in reasons["a"] and "too cloudy" in reasons["c"]


# ------------------------------------------------------------------------------------------
# Pipeline


def _harmonize_request(scenes: Path, output: Path, **overrides: object) -> object:
    """The pipeline tests' request (tile 14N-0080-0752, 256 px, blocks of 128) for harmonize."""
    from tests.pipeline_fixtures import pipe_request

    fields: dict[str, object] = {
        "start": dt.date(2023, 6, 25),
        "end": dt.date(2023, 7, 31),
        "task": "harmonize",
        "model": "bandpass",
    }
    return pipe_request(scenes, output, **{**fields, **overrides})


@pytest.mark.slow
@pytest.mark.parametrize("model", ["bandpass", "mgan"])
def test_pipeline_harmonizes_every_clear_sentinel2_date(
    small_sim: SimulationResult, tmp_path: Path, model: str
) -> None:
    from pipelines.run import run_fusion

    out = tmp_path / "out"
    request = _harmonize_request(small_sim.out_dir, out, model=model)
    summary = run_fusion(request, tmp_path / "report")  # type: ignore[arg-type]
    assert not [r for r in summary.dead_letters if r["kind"] == "failed"], summary.text()
    s2_days = sorted(
        {i.properties["datetime"].date() for i in small_sim.items if i.collection == "sentinel-2-l2a"}
    )
    skipped = {r["key"].split("/")[1] for r in summary.dead_letters if r["stage"] == "pair"}
    items = sorted(out.glob(f"eo-fusion-harmonize-{model}/{TILE}/*/*.json"))
    written = {json.loads(p.read_text())["properties"]["datetime"][:10] for p in items}
    # Every Sentinel-2 date is either a product or a skip with a reason.
    assert written | skipped == {d.isoformat() for d in s2_days} and not written & skipped
    assert written, summary.text()
    for path in items:
        item = json.loads(path.read_text())
        assert item["properties"]["eo-fusion:model"]["name"] == model
        cog = path.with_suffix(".tif")
        valid, errors, _ = is_valid_cog(cog)
        assert valid, errors
        assert item["properties"]["eo-fusion:task"] == "harmonize"
        assert item["properties"]["eo-fusion:reference_dates"] == []
        assert "S2" in item["properties"]["processing:lineage"]
    code, results, log = stac_validate_recursive(out / "catalog.json", tmp_path)
    assert code == 0 and all(r.get("valid_stac") for r in results), log
    # Deterministic: a second run writes nothing new.
    again = run_fusion(request, tmp_path / "report2")  # type: ignore[arg-type]
    assert not again.written and len(again.existing) == len(items)


def test_harmonize_request_refuses_a_spatiotemporal_model(
    small_sim: SimulationResult, tmp_path: Path
) -> None:
    from pipelines.run import run_fusion

    request = _harmonize_request(small_sim.out_dir, tmp_path / "out", model="starfm")
    with pytest.raises(ConfigError, match=r"spatiotemporal.*harmonize"):
        run_fusion(request, tmp_path / "report")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="multiple of 2"):
        run_fusion(_harmonize_request(small_sim.out_dir, tmp_path / "o", block_size=125), tmp_path / "r")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# Training


@pytest.fixture(scope="module")
def pair_scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Landsat and Sentinel-2 from the same first day: the Sentinel-2 scenes of 06-02, 06-17 and
    08-06 have a Landsat scene within a day."""
    cfg = SimulationConfig(
        seed=11,
        size_m=7680.0,
        margin_m=960.0,
        start=dt.date(2023, 6, 1),
        end=dt.date(2023, 8, 6),
        sensors=("landsat", "sentinel-2"),
        landsat_first=dt.date(2023, 6, 2),
        sentinel2_first=dt.date(2023, 6, 2),
        mean_cloudiness=0.0,
    )
    out = tmp_path_factory.mktemp("pairs") / "scenes"
    simulate(cfg, out)
    return out


def _pair_request(scenes: Path, output: Path) -> Any:
    from fusion.request import FusionRequest

    return FusionRequest(
        catalog=str(scenes),
        output=str(output),
        start=dt.date(2023, 6, 1),
        end=dt.date(2023, 8, 6),
        task="harmonize",
        tiles=(TILE,),
        tile_size=256,
        block_size=256,
    )


@pytest.fixture(scope="module")
def pair_set(pair_scenes: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The harmonize training set of ``pair_scenes`` (the Beam pair training-set pipeline)."""
    from pipelines.pairset import PairsetSpec, run_pairset

    out = tmp_path_factory.mktemp("pairset")
    run_pairset(_pair_request(pair_scenes, out), PairsetSpec(min_clear=0.3), out)
    return out


@pytest.mark.slow
def test_pair_training_set_holds_every_same_day_pair_read_whole(pair_scenes: Path, pair_set: Path) -> None:
    """The Beam pipeline writes what the task's pairing rule and reader give, byte for byte,
    in the order a trainer takes them."""
    from fusion.tasks.harmonize import read_pair, tile_pairs
    from fusion.training.pairs import PairSet

    data = PairSet.open(pair_set)
    assert data.task == "harmonize" and data.manifest["dead_letters"] == 0
    assert [r["date"] for r in data.records] == ["2023-06-02", "2023-06-17", "2023-08-06"]
    direct = tile_pairs(_pair_request(pair_scenes, pair_set), 0.3, lambda m: None)
    assert len(direct) == len(data)
    for (tile, pair), (record, arrays) in zip(direct, data, strict=True):
        assert (record["source_id"], record["target_id"]) == (pair.source.scene.id, pair.target.scene.id)
        read = read_pair(pair, tile)
        expected = {**read.inputs, "target": read.target, "usable": read.usable}
        assert sorted(arrays) == sorted(expected)
        for name, array in expected.items():
            assert arrays[name].dtype == array.dtype and arrays[name].tobytes() == array.tobytes(), name
        assert arrays["s2_10m"].shape == (768, 768, 4) and arrays["s2_20m"].shape == (384, 384, 2)
        assert arrays["target"].shape == (256, 256, 6) and record["attributes"]["platform"] in PLATFORMS


@pytest.mark.slow
def test_train_mgan_exports_a_package_the_pipeline_runs(
    pair_scenes: Path, pair_set: Path, tmp_path: Path
) -> None:
    from fusion.models.mgan.export import export_mgan
    from fusion.models.mgan.trainer import MganTrainConfig, train_mgan
    from fusion.models.package import load_model_package
    from fusion.training.pairs import PairSet
    from pipelines.run import run_fusion

    data = PairSet.open(pair_set)
    cfg = MganTrainConfig(model=TINY, batch_size=2, max_steps=4, validate_every=2)
    messages: list[str] = []
    result = train_mgan(data, cfg, messages.append)
    assert result.steps == 4 and result.stopped == "max_steps"
    keys = [p["key"] for p in result.pairs]
    assert [k.split("/")[1] for k in keys] == ["2023-06-02", "2023-06-17", "2023-08-06"]
    assert [p["validation"] for p in result.pairs] == [False, True, False]
    assert result.patches["train"] > 0 and result.patches["validation"] > 0
    for name in ("mgan", "bandpass", "area-average"):
        assert set(result.scores[name]["overall"]) == {"sam", "ergas", "rmse", "uiqi", "psnr"}
    package = export_mgan(tmp_path / "mgan", result, cfg, data, "test")
    loaded = load_model_package(package)  # checks the signature against the metadata
    assert loaded.metadata.halo == BUFFER and loaded.metadata.task == "harmonize"
    meta = json.loads((package / "fusion-model.json").read_text())
    assert meta["training"]["steps"] == 4 and meta["normalization"]["percentiles"] == [1, 99]
    assert meta["training"]["catalog"] == str(pair_scenes) and meta["training"]["tiles"] == [TILE]
    summary = run_fusion(
        _harmonize_request(
            pair_scenes,
            tmp_path / "out",
            model=str(package),
            start=dt.date(2023, 6, 2),
            end=dt.date(2023, 6, 7),
        ),  # type: ignore[arg-type]
        tmp_path / "report",
    )
    skipped = [r for r in summary.dead_letters if r["stage"] == "pair"]
    assert summary.written and len(summary.written) + len(skipped) == 2, summary.text()
    assert not [r for r in summary.dead_letters if r["kind"] == "failed"], summary.text()


@pytest.mark.slow
def test_cli_builds_a_harmonize_training_set_and_trains_mgan_on_it(pair_scenes: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from fusion.models.package import load_model_package
    from pipelines.cli import main

    runner = CliRunner()
    period = ["--start", "2023-06-01", "--end", "2023-08-06", "--tiles", TILE, "--tile-size", "256"]
    built = runner.invoke(
        main,
        ["training-set", "--task", "harmonize", "--catalog", str(pair_scenes), "--out", str(tmp_path / "ts"),
         *period, "-q"],
    )  # fmt: skip
    assert built.exit_code == 0, built.output
    assert "pairs: 3 on 3 dates; dead letters 0" in built.output
    trained = runner.invoke(
        main,
        ["train", "mgan", "--data", str(tmp_path / "ts"), "--out", str(tmp_path / "pkg"), "--max-steps", "2",
         "--validate-every", "1", "--batch-size", "2", "--bottom-filters", "4", "--filters", "4,8,8,8,8,8,8",
         "--discriminator-filters", "4,8,8,8", "-q"],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert "trained 2 steps" in trained.output
    loaded = load_model_package(tmp_path / "pkg")
    assert loaded.metadata.task == "harmonize"
    assert loaded.metadata.training["trainset"]["path"] == str((tmp_path / "ts").resolve())
    # The patch options do not apply to a pair training set, nor a pair set to DCSTFN.
    refused = runner.invoke(
        main,
        ["training-set", "--task", "harmonize", "--catalog", str(pair_scenes), "--out", str(tmp_path / "x"),
         *period, "--patch", "4"],
    )  # fmt: skip
    assert refused.exit_code == 2 and "--patch: not used by a harmonize training set" in refused.output
    dcstfn = ["train", "dcstfn", "--data", str(tmp_path / "ts"), "--out", str(tmp_path / "d")]
    wrong = runner.invoke(main, dcstfn)
    assert wrong.exit_code == 2 and "is not a patch training set" in wrong.output


@pytest.mark.slow
def test_pair_training_set_dead_letters_an_unreadable_scene_and_leaves_its_pair_out(
    pair_scenes: Path, tmp_path: Path
) -> None:
    import shutil

    from click.testing import CliRunner

    from pipelines.cli import main

    scenes = tmp_path / "scenes"
    shutil.copytree(pair_scenes, scenes)
    qa = next(scenes.glob("sentinel-2-l2a/*_20230617T*/*_SCL_20m.tif"))
    qa.write_bytes(b"not a tiff")  # its clear fraction cannot be assessed
    band = next(scenes.glob("landsat-c2-l2/*_20230805_*/*_SR_B4.TIF"))
    band.write_bytes(b"not a tiff")  # assessed (QA is fine), but the pair cannot be read
    out = tmp_path / "ts"
    result = CliRunner().invoke(
        main,
        ["training-set", "--task", "harmonize", "--catalog", str(scenes), "--out", str(out),
         "--start", "2023-06-01", "--end", "2023-08-06", "--tiles", TILE, "--tile-size", "256", "-q"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "pairs: 1 on 1 dates; dead letters 2" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["date"] for r in manifest["pairs"]] == ["2023-06-02"]
    dead = [json.loads(x) for x in (out / "dead-letter.jsonl").read_text().splitlines()]
    by_stage = {r["stage"]: r for r in dead}
    assert set(by_stage) == {"assess", "read"}, dead
    assert by_stage["assess"]["asset"].endswith(qa.name)
    assert by_stage["read"]["asset"].endswith(band.name) and "2023-08-06" in by_stage["read"]["key"]
    assert sorted(p.name for p in (out / "pairs").iterdir()) == [Path(manifest["pairs"][0]["file"]).name]


@pytest.mark.slow
def test_a_corrupt_sentinel2_band_dead_letters_its_product_only(
    small_sim: SimulationResult, tmp_path: Path
) -> None:
    import shutil

    from pipelines.run import run_fusion

    scenes = tmp_path / "scenes"
    shutil.copytree(small_sim.out_dir, scenes)
    clean = run_fusion(_harmonize_request(small_sim.out_dir, tmp_path / "clean"), tmp_path / "r0")  # type: ignore[arg-type]
    victim_day = sorted(p["product_id"].split("-")[-2] for p in clean.written)[0]
    band = next(scenes.glob(f"sentinel-2-l2a/*_{victim_day}T*/*_B04_10m.tif"))
    band.write_bytes(b"not a tiff")
    summary = run_fusion(_harmonize_request(scenes, tmp_path / "out"), tmp_path / "r1")  # type: ignore[arg-type]
    failed = [r for r in summary.dead_letters if r["kind"] == "failed"]
    assert failed and all(victim_day in r["key"] for r in failed), summary.text()
    assert any(r["stage"] == "read" and r["asset"] and r["asset"].endswith(band.name) for r in failed)
    written_days = sorted(p["product_id"].split("-")[-2] for p in summary.written)
    assert victim_day not in written_days
    assert len(written_days) == len(clean.written) - 1


def test_band_normalization_saturates_at_percentiles_only_when_asked() -> None:
    from fusion.models.mgan.network import BandNormalization

    rng = np.random.default_rng(4)
    land = rng.normal(0.3, 0.03, (5000, 1))
    water = np.full((40, 1), 0.01)  # 0.8 % of the pixels: below the 1st percentile
    samples = np.concatenate([land, water]).astype(np.float32)
    seed_style = BandNormalization.of(samples, (1.0, 99.0))
    keep = BandNormalization.of(samples, None)
    x = np.array([[0.01], [0.3]], np.float32)
    back_clip = seed_style.apply_numpy(x) * np.float32(seed_style.scale[0]) + np.float32(seed_style.mean[0])
    back_keep = keep.apply_numpy(x) * np.float32(keep.scale[0]) + np.float32(keep.mean[0])
    assert back_clip[0, 0] > 0.2  # water saturated to a land value
    assert back_keep[:, 0] == pytest.approx([0.01, 0.3], abs=1e-6)
    assert np.abs(seed_style.apply_numpy(samples)).max() <= 1.0 + 1e-6
    assert np.abs(keep.apply_numpy(samples)).max() <= 1.0 + 1e-6  # still within tanh's range
    assert BandNormalization.from_json(keep.as_json()) == keep


@pytest.mark.slow
def test_evaluate_harmonize_scores_products_against_same_day_landsat(
    pair_scenes: Path, tmp_path: Path
) -> None:
    from pipelines.evaluation import run_and_score

    messages: list[str] = []
    summary = run_and_score(
        str(pair_scenes), tmp_path, ("bandpass", "area-average"), dt.date(2023, 6, 1), dt.date(2023, 6, 20),
        (TILE,), 256, 128, messages.append, "test, {n} dates",
    )  # fmt: skip
    # Sentinel-2 06-02 (Landsat the same day) and 06-17 (Landsat 06-18) are in the period;
    # 06-02 is 47 % clear on the tile, below the 50 % a product and a scored pair need.
    assert [c["date"] for c in summary["cases"]] == ["2023-06-17"]
    assert all(c["landsat"].startswith("LC08") for c in summary["cases"])
    table = (tmp_path / "table.md").read_text()
    for label in ("SAM", "ERGAS", "RMSE", "UIQI", "PSNR", "Band 5 (nir08)", "test, 1 dates"):
        assert label in table
    mean = summary["mean"]
    assert set(mean) == {"bandpass", "area-average"}
    assert mean["bandpass"]["overall"]["sam"] != mean["area-average"]["overall"]["sam"]
    assert (tmp_path / "figure.png").stat().st_size > 0 and (tmp_path / "table.csv").exists()
