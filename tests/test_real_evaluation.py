"""`fusion evaluate real` (fusion.evaluation.real): every model, the shipped and the on-site
DCSTFN included, is scored through its model package (LoadedModel.predict)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fusion.errors import ConfigError
from fusion.evaluation.real import ONSITE_PACKAGE, REAL_SETS, RealSet, package_inputs
from fusion.models import PACKAGES_DIR, get_model
from fusion.models.package import load_model_package, package_checksum

REAL = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_gwydir = pytest.mark.skipif(
    not (REAL / "gwydir_flood").is_dir(), reason="shared/data/gwydir_flood is not beside the checkout"
)


def _small_set() -> RealSet:
    rng = np.random.default_rng(0)

    def image(size: int) -> np.ndarray:
        return rng.uniform(0.05, 0.4, (size, size, 3)).astype(np.float32)

    return RealSet(REAL_SETS["gwydir_flood"], image(32), image(2), image(32), image(2))


def test_package_inputs_feed_bands_the_set_lacks_at_their_fill_value() -> None:
    data = _small_set()  # green, red, nir08
    x = package_inputs(data, ["blue", "nir08", "green"], {"blue": 0.064})
    assert x["fine_tk1"].shape == (1, 32, 32, 3) and x["coarse_t0"].shape == (1, 2, 2, 3)
    assert x["fine_tk1"].dtype == np.float32
    np.testing.assert_array_equal(x["fine_tk1"][0, ..., 0], np.float32(0.064))
    np.testing.assert_array_equal(x["coarse_tk1"][0, ..., 0], np.float32(0.064))
    np.testing.assert_array_equal(x["fine_tk1"][0, ..., 1], data.fine_reference[..., 2])
    np.testing.assert_array_equal(x["coarse_t0"][0, ..., 2], data.coarse_target[..., 0])
    # One reference pair: the second is the same pair, marked unusable.
    assert x["valid_tk1"].all() and not x["valid_tk2"].any()
    with pytest.raises(ConfigError, match="blue"):
        package_inputs(data, ["blue", "green"])


@needs_gwydir
@pytest.mark.slow
def test_shipped_dcstfn_through_its_package_equals_its_network_restricted_to_the_sets_bands() -> None:
    """Scoring the six-band package with the missing bands at their training mean is the
    band-subset network that the evaluation used to run through Keras directly."""
    from fusion.evaluation.real import load_real_set, score_package
    from fusion.models.dcstfn.subset import dcstfn_for_bands
    from fusion.models.dcstfn.trainer import predict_normalized

    data = load_real_set("gwydir_flood", REAL)
    model = get_model("dcstfn")
    served, source = score_package(model, data)
    assert source["path"] == str(PACKAGES_DIR / "dcstfn")
    assert source["sha256"] == package_checksum(PACKAGES_DIR / "dcstfn")
    filled = source["filled_at_training_mean"]
    assert isinstance(filled, dict) and sorted(filled) == ["blue", "swir16", "swir22"]
    assert served.shape == (480, 480, 3) and served.dtype == np.float32
    sim = dcstfn_for_bands("dcstfn", data.bands)
    assert sim.networks is not None and sim.normalization is not None
    x = package_inputs(data, data.bands)
    one_pair = {k: x[k] for k in ("coarse_t0", "fine_tk1", "coarse_tk1")}
    direct = predict_normalized(sim.networks, sim.variant, sim.normalization, one_pair)
    np.testing.assert_allclose(served, np.asarray(direct)[0], atol=1e-5)


@needs_gwydir
@pytest.mark.slow
def test_real_evaluation_scores_each_dcstfn_from_the_package_it_names(tmp_path: Path) -> None:
    from fusion.evaluation.real import evaluate_real_set, load_real_set, score_package
    from fusion.metrics import evaluate

    out = tmp_path / "report"
    report = evaluate_real_set("gwydir_flood", out, data_dir=REAL, site_minutes=0.05, stride=5)
    notes = report["notes"]
    assert isinstance(notes, dict)
    assert json.loads((out / "notes.json").read_text())["packages"] == notes["packages"]
    packages = notes["packages"]
    assert set(packages) == {"dcstfn-sim", "dcstfn-site"}
    assert packages["dcstfn-sim"]["path"] == str(PACKAGES_DIR / "dcstfn")
    assert packages["dcstfn-sim"]["sha256"] == package_checksum(PACKAGES_DIR / "dcstfn")
    # The on-site network was exported as a package under the report folder and loads as one.
    onsite = out / ONSITE_PACKAGE
    assert packages["dcstfn-site"]["path"] == str(onsite)
    model = load_model_package(onsite)  # refuses a signature that contradicts the metadata
    assert packages["dcstfn-site"]["sha256"] == model.checksum
    assert packages["dcstfn-site"]["filled_at_training_mean"] == {}
    meta = model.metadata
    assert meta.name == "dcstfn-onsite" and list(meta.bands) == ["green", "red", "nir08"]
    assert meta.training is not None and meta.training["trainset"]["split"]["holdout_east_from_column"] == 240
    assert (onsite / "keras" / "network-0.keras").is_file()
    # Its reported scores are those of the package's predictions.
    data = load_real_set("gwydir_flood", REAL)
    predicted, _ = score_package(model, data)
    mask = np.zeros((480, 480), bool)
    mask[:, 240:] = True
    rmse = evaluate(
        np.moveaxis(data.fine_target, -1, 0),
        np.moveaxis(predicted, -1, 0),
        mask,
        bands=data.bands,
        metrics=["rmse"],
        data_range=1.0,
    ).per_band["rmse"]
    scores = json.loads((out / "scores.json").read_text())
    assert scores["mean_rmse_over_bands"]["dcstfn-site"] == pytest.approx(float(np.mean(rmse)), abs=1e-7)
