"""Model packages: metadata, signature checks, checksums, the built-in registry."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from fusion.errors import ModelPackageError, UnknownNameError
from fusion.models import (
    EXPORTERS,
    PACKAGES_DIR,
    TRAINED,
    export_model,
    get_model,
    list_models,
    resolve_model,
)
from fusion.models.package import (
    MANIFEST_FILE,
    METADATA_FILE,
    load_model_package,
    package_checksum,
    read_metadata,
    verify_package,
    write_manifest,
)


def _inputs(model, size: int = 32, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for spec in model.metadata.inputs:
        if spec.role == "platform":  # one-hot, (N, 1, 1, platforms)
            out[spec.name] = np.eye(len(spec.bands), dtype=np.float32)[:1, None, None, :]
            continue
        # harmonize sources are read at their own pixel size on the 30 m output grid
        n = int(size * 30 / spec.pixel_size) if spec.role == "source" else size // spec.resolution_ratio
        out[spec.name] = rng.uniform(0.05, 0.4, (1, n, n, len(spec.bands))).astype(np.float32)
        if spec.role == "valid":
            out[spec.name] = np.ones_like(out[spec.name])
    return out


def test_registry_is_complete_and_every_builtin_loads() -> None:
    assert list_models() == sorted({*EXPORTERS, *TRAINED})
    for name in list_models():
        assert (PACKAGES_DIR / name / METADATA_FILE).is_file(), f"built-in {name} is not shipped"
        model = get_model(name)
        assert model.metadata.name == name
        out = model.predict(_inputs(model, size=64))
        assert out.shape == (1, 64, 64, len(model.metadata.bands))
        assert np.isfinite(out).all()


@pytest.mark.slow
def test_shipped_packages_behave_like_a_fresh_export(tmp_path: Path) -> None:
    """The committed exported packages are what `fusion export-model` builds from the current
    code (trained ones are checked in test_dcstfn.py)."""
    for name in sorted(EXPORTERS):
        fresh = load_model_package(export_model(name, tmp_path / name))
        shipped = get_model(name)
        assert fresh.metadata.to_json() == shipped.metadata.to_json()
        x = _inputs(shipped, size=64, seed=1)
        np.testing.assert_allclose(fresh.predict(x), shipped.predict(x), atol=1e-6)


def test_naive_is_the_difference_formula() -> None:
    model = get_model("naive")
    rng = np.random.default_rng(2)
    fine = rng.uniform(0.1, 0.3, (1, 32, 32, 6)).astype(np.float32)
    c0 = np.full((1, 2, 2, 6), 0.25, np.float32)
    ck = np.full((1, 2, 2, 6), 0.2, np.float32)
    out = model.predict(
        {
            "coarse_t0": c0,
            "fine_tk1": fine,
            "coarse_tk1": ck,
            "valid_tk1": np.ones((1, 32, 32, 1), np.float32),
        }
    )
    np.testing.assert_allclose(out, fine + 0.05, atol=1e-6)


def test_signature_mismatch_is_refused(tmp_path: Path) -> None:
    pkg = tmp_path / "naive"
    shutil.copytree(PACKAGES_DIR / "naive", pkg)
    meta = json.loads((pkg / METADATA_FILE).read_text())
    meta["inputs"][1]["name"] = "fine_reference"
    (pkg / METADATA_FILE).write_text(json.dumps(meta))
    # A consistent manifest, so the signature check (not the checksum) is what refuses it.
    write_manifest(pkg)
    with pytest.raises(ModelPackageError, match="fine_reference"):
        load_model_package(pkg)
    meta["inputs"][1]["name"] = "fine_tk1"
    meta["bands"] = ["red"]
    (pkg / METADATA_FILE).write_text(json.dumps(meta))
    write_manifest(pkg)
    with pytest.raises(ModelPackageError, match="channels"):
        load_model_package(pkg)


def test_every_shipped_package_matches_its_manifest() -> None:
    for name in list_models():
        verify_package(resolve_model(name))


def test_tampered_package_is_refused_naming_the_file(tmp_path: Path) -> None:
    """Variables replaced by another model's (a valid signature that fuses garbage): refused
    at load, naming the file whose checksum differs; an extra or missing file too."""
    pkg = tmp_path / "naive"
    shutil.copytree(PACKAGES_DIR / "naive", pkg)
    variables = sorted((pkg / "saved_model" / "variables").glob("variables.data-*"))[0]
    data = bytearray(variables.read_bytes())
    data[-1] ^= 0xFF
    variables.write_bytes(bytes(data))
    rel = variables.relative_to(pkg).as_posix()
    with pytest.raises(ModelPackageError, match=f"{re.escape(rel)}: sha256 differs"):
        load_model_package(pkg)
    with pytest.raises(ModelPackageError, match="sha256 differs"):
        verify_package(pkg)  # the check without TensorFlow, run before a pipeline is built

    pkg2 = tmp_path / "extra"
    shutil.copytree(PACKAGES_DIR / "naive", pkg2)
    (pkg2 / "saved_model" / "assets").mkdir(exist_ok=True)
    (pkg2 / "saved_model" / "assets" / "payload.bin").write_bytes(b"x")
    with pytest.raises(ModelPackageError, match=r"payload\.bin: not listed"):
        verify_package(pkg2)
    (pkg2 / "saved_model" / "assets" / "payload.bin").unlink()
    (pkg2 / MANIFEST_FILE).unlink()
    with pytest.raises(ModelPackageError, match=f"{MANIFEST_FILE} is missing"):
        verify_package(pkg2)


def test_corrupted_saved_model_is_refused_naming_the_file(tmp_path: Path) -> None:
    pkg = tmp_path / "naive"
    shutil.copytree(PACKAGES_DIR / "naive", pkg)
    pb = pkg / "saved_model" / "saved_model.pb"
    pb.write_bytes(pb.read_bytes()[:100])
    write_manifest(pkg)  # the manifest agrees: TensorFlow's reading is what must name the file
    with pytest.raises(ModelPackageError, match=r"saved_model\.pb"):
        load_model_package(pkg)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "x/../../../../../tmp/ESCAPED", "no '/'"),
        ("name", "/tmp/ESCAPED_ABS", "no '/'"),  # noqa: S108 (a name, not a file),
        ("halo", -64, "halo"),
        ("halo", "big", "halo"),
        ("bands", [], "bands"),
    ],
)
def test_bad_metadata_fields_are_refused_by_name(
    tmp_path: Path, field: str, value: object, message: str
) -> None:
    pkg = tmp_path / "naive"
    shutil.copytree(PACKAGES_DIR / "naive", pkg)
    meta = json.loads((pkg / METADATA_FILE).read_text())
    meta[field] = value
    (pkg / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelPackageError, match=re.escape(message)):
        read_metadata(pkg)


def test_missing_or_foreign_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelPackageError, match=METADATA_FILE):
        load_model_package(tmp_path)
    with pytest.raises(UnknownNameError, match="starfm"):
        resolve_model("no-such-model")
    (tmp_path / METADATA_FILE).write_text(json.dumps({"schema": "other/1"}))
    with pytest.raises(ModelPackageError, match="schema"):
        load_model_package(tmp_path)


def test_checksum_changes_with_any_byte(tmp_path: Path) -> None:
    pkg = tmp_path / "p"
    shutil.copytree(PACKAGES_DIR / "naive", pkg)
    before = package_checksum(pkg)
    assert before == package_checksum(PACKAGES_DIR / "naive")
    meta = pkg / METADATA_FILE
    meta.write_text(meta.read_text() + " ")
    assert package_checksum(pkg) != before
