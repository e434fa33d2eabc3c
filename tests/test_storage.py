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


# ------------------------------------------------------------- concurrent writers of one object

_RACE_OBJECTS = ("race/a.json", "race/b.tif")  # written by write_bytes / put_file


def _race_content(writer: int, k: int, lo: int, hi: int) -> bytes:
    """Version ``k`` of writer ``writer``: a unique header, then filler up to a size in
    [lo, hi). A prefix of it (a partial read) equals no complete version."""
    size = lo + (k * 7919 + writer * 104729) % (hi - lo)
    head = f"writer {writer} version {k}\n".encode()
    return head + bytes([ord("a") + writer]) * (size - len(head))


def _race_writer(root: str, scratch: str, writer: int, iterations: int, lo: int, hi: int, out: Any) -> None:
    failures: list[str] = []
    src = Path(scratch) / f"writer-{writer}.bin"
    for k in range(iterations):
        data = _race_content(writer, k, lo, hi)
        try:
            storage.write_bytes(storage.join(root, _RACE_OBJECTS[0]), data)
            src.write_bytes(data)
            storage.put_file(src, storage.join(root, _RACE_OBJECTS[1]))
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
    out.put(("writer", writer, failures))


def _race_reader(root: str, writers: int, iterations: int, lo: int, hi: int, stop: Any, out: Any) -> None:
    import hashlib

    complete = {hashlib.sha256(b"initial").digest()}
    complete |= {
        hashlib.sha256(_race_content(w, k, lo, hi)).digest()
        for w in range(writers)
        for k in range(iterations)
    }
    reads = partial = errors = 0
    first_error = ""
    while not stop.is_set():
        for name in _RACE_OBJECTS:
            try:
                data = storage.read_bytes(storage.join(root, name))
            except Exception as exc:
                errors += 1
                first_error = first_error or f"{type(exc).__name__}: {exc}"
                continue
            reads += 1
            partial += hashlib.sha256(data).digest() not in complete
    out.put(("reader", reads, partial, errors, first_error))


def race(root: str, scratch: Path, iterations: int, lo: int, hi: int) -> dict[str, Any]:
    """Two processes write the same two objects ``iterations`` times each while a third reads
    them at their final names; returns what each saw."""
    import multiprocessing

    for name in _RACE_OBJECTS:
        storage.write_bytes(storage.join(root, name), b"initial")
    ctx = multiprocessing.get_context("spawn")
    out, stop = ctx.Queue(), ctx.Event()
    reader = ctx.Process(target=_race_reader, args=(root, 2, iterations, lo, hi, stop, out))
    writers = [
        ctx.Process(target=_race_writer, args=(root, str(scratch), w, iterations, lo, hi, out))
        for w in range(2)
    ]
    reader.start()
    for p in writers:
        p.start()
    results = [out.get(timeout=120) for _ in writers]
    stop.set()
    results.append(out.get(timeout=60))
    for p in [*writers, reader]:
        p.join(timeout=30)
    failures = [f for r in results if r[0] == "writer" for f in r[2]]
    (_, reads, partial, errors, first_error) = next(r for r in results if r[0] == "reader")
    return {
        "failures": failures,
        "reads": reads,
        "partial": partial,
        "errors": errors,
        "first_error": first_error,
    }


@pytest.mark.parametrize(
    ("kind", "iterations", "lo", "hi"), [("local", 200, 64 << 10, 1 << 20), ("gcs", 200, 1 << 10, 32 << 10)]
)
def test_concurrent_writers_never_fail_and_readers_never_see_a_partial_object(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str, iterations: int, lo: int, hi: int
) -> None:
    if kind == "local":
        root = str(tmp_path / "store")
    else:
        root = request.getfixturevalue("gcs").create_bucket(next(_bucket_names))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    seen = race(root, scratch, iterations, lo, hi)
    print(kind, {k: (len(v) if k == "failures" else v) for k, v in seen.items()}, seen["failures"][:3])
    assert seen["failures"] == []
    assert seen["errors"] == 0, seen["first_error"]
    assert seen["reads"] > 0 and seen["partial"] == 0
    # Every writer's temporary file or object is gone.
    assert all(".partial" not in f and storage.GCS_TMP_PREFIX not in f for f in storage.list_files(root))


# ------------------------------------------------------------- GCS generation preconditions


def test_the_emulator_enforces_generation_preconditions(gcs: Any) -> None:
    """A stale ifGenerationMatch is a real 412 (PreconditionFailed) and changes nothing."""
    from google.api_core.exceptions import PreconditionFailed

    bucket_name = gcs.create_bucket(next(_bucket_names)).removeprefix("gs://")
    blob = storage.gcs_client().bucket(bucket_name).blob("obj.json")
    blob.upload_from_string(b"v1", if_generation_match=0)
    stale = int(storage.gcs_client().bucket(bucket_name).get_blob("obj.json").generation)
    blob.upload_from_string(b"v2", if_generation_match=stale)
    with pytest.raises(PreconditionFailed):
        blob.upload_from_string(b"v3", if_generation_match=stale)
    with pytest.raises(PreconditionFailed):
        blob.upload_from_string(b"v3", if_generation_match=0)  # "only if absent"
    assert storage.read_bytes(f"gs://{bucket_name}/obj.json") == b"v2"


def test_a_concurrent_update_between_compare_and_write_is_not_overwritten(
    gcs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """write_if_changed compares, then writes on the compared generation. Another writer that
    gets in between (a second run updating the same catalog) makes the copy fail with 412:
    the other writer's content survives and the caller is told to run again; when the other
    writer wrote exactly our bytes, the 412 counts as done."""
    root = gcs.create_bucket(next(_bucket_names))
    location = f"{root}/catalog.json"
    storage.write_bytes(location, b"original")
    real_current = storage._gcs_current
    interloper = {"content": b"theirs"}

    def compare_then_interloper_writes(loc: str) -> tuple[bytes | None, int]:
        seen = real_current(loc)
        if loc == location and interloper["content"] is not None:
            storage.write_bytes(location, interloper["content"])  # a real second writer
            interloper["content"] = None
        return seen

    monkeypatch.setattr(storage, "_gcs_current", compare_then_interloper_writes)
    with pytest.raises(OSError, match="changed while eo-fusion was updating it"):
        storage.write_if_changed(location, b"ours")
    assert storage.read_bytes(location) == b"theirs"

    interloper["content"] = b"same"
    assert storage.write_if_changed(location, b"same") is True
    assert storage.read_bytes(location) == b"same"
    assert not [f for f in storage.list_files(root) if storage.GCS_TMP_PREFIX in f]
