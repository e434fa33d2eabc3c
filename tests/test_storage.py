"""fusion.storage against a local folder and a real GCS emulator (gcp-storage-emulator)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from fusion import storage
from fusion.errors import ConfigError, SceneNotFound

_bucket_names = (f"eo-fusion-test-{i}" for i in itertools.count())


@pytest.fixture(params=["local", "gcs"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "store")
    gcs: Any = request.getfixturevalue("gcs")
    return gcs.create_bucket(next(_bucket_names)) + "/products"


def test_write_read_list_and_exists(root: str) -> None:
    a = storage.join(root, "c1", "2023", "a.json")
    b = storage.join(root, "c1", "b.tif")
    assert not storage.exists(a)
    with pytest.raises(SceneNotFound, match="does not exist"):
        storage.read_bytes(a)
    storage.write_bytes(a, b'{"x": 1}', "application/json")
    storage.write_bytes(b, b"\x00\x01")
    assert storage.exists(a) and storage.read_bytes(a) == b'{"x": 1}'
    assert storage.list_files(root, ".json") == [a]
    assert storage.list_files(root) == sorted([a, b])
    # No temporary object or file is left behind.
    assert all(".partial" not in f for f in storage.list_files(root))


def test_write_if_changed_writes_only_changes(root: str) -> None:
    loc = storage.join(root, "catalog.json")
    assert storage.write_if_changed(loc, b"one") is True
    assert storage.write_if_changed(loc, b"one") is False
    assert storage.write_if_changed(loc, b"two") is True
    assert storage.read_bytes(loc) == b"two"


def test_put_file_moves_a_local_file_into_place(root: str, tmp_path: Path) -> None:
    src = tmp_path / "scratch.tif"
    src.write_bytes(b"cog bytes" * 1000)
    dest = storage.join(root, "x", "p.tif")
    storage.put_file(src, dest, "image/tiff")
    assert storage.read_bytes(dest) == src.read_bytes()


def test_relative_links_stay_inside_one_store() -> None:
    assert storage.relative("gs://b/p/c/catalog.json", "gs://b/p/c/t/2023") == "../../catalog.json"
    assert storage.relative("gs://other/x.json", "gs://b/p") is None
    assert storage.relative("/data/x.json", "gs://b/p") is None
    assert storage.relative("https://h/x.json", "gs://b/p") is None


def test_writing_to_an_unsupported_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot write to s3://"):
        storage.write_bytes("s3://bucket/x.json", b"{}")
    with pytest.raises(ConfigError, match="names no bucket"):
        storage.split_gcs("gs:///x")


def test_names_are_relative_to_the_root_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    storage.write_bytes("./out/eo-fusion-x/t/a.json", b"{}")
    (found,) = storage.list_files("./out", ".json")
    assert storage.relative_name(found, "./out") == "eo-fusion-x/t/a.json"
    assert storage.relative_name("gs://b/p/eo-fusion-x/a.json", "gs://b/p/") == "eo-fusion-x/a.json"
