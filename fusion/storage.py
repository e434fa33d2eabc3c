"""Where products go: a local folder or a ``gs://`` prefix, behind one small set of functions.

Every function takes a location string: a local path, or ``gs://BUCKET/PATH``. Local writes go
through a temporary name and ``os.replace``; GCS writes upload a temporary object and copy it
onto the final name with a generation precondition (``0`` = only if absent, ``N`` = only if
still the version we compared against), so a retried or concurrent write never clobbers a newer
object and a reader never sees half an object. The client honours ``STORAGE_EMULATOR_HOST``
(tests use gcp-storage-emulator).
"""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
import secrets
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fusion.errors import ConfigError, SceneNotFound

GCS = "gs://"


def is_gcs(location: str | os.PathLike[str]) -> bool:
    return str(location).startswith(GCS)


def is_remote(location: str | os.PathLike[str]) -> bool:
    """A URL (any scheme but file://) rather than a local path."""
    text = str(location)
    return "://" in text and not text.startswith("file://")


def join(base: str | os.PathLike[str], *parts: str) -> str:
    if is_remote(base):
        return posixpath.join(str(base).rstrip("/"), *parts)
    return str(Path(base).joinpath(*parts))


def join_inside(root: str | os.PathLike[str], *names: str) -> str:
    """``root`` joined with ``names``, each one path segment or several separated by ``/``,
    none of which may leave ``root``: an empty segment, ``.``, ``..``, a backslash or a NUL is
    refused with :class:`~fusion.errors.OutputPathError`. Every output writer builds its paths
    with it, so a hostile model, task, collection or item name cannot write outside the output
    (a leading ``/`` is an empty first segment)."""
    from fusion.errors import OutputPathError

    segments: list[str] = []
    for name in names:
        for segment in str(name).split("/"):
            if segment in ("", ".", "..") or "\\" in segment or "\0" in segment:
                raise OutputPathError(
                    f"refusing to write under {root}: the name {name!r} would leave the output "
                    f"folder (segment {segment!r}); names of tasks, models, collections and "
                    "products must be plain names (letters, digits, '.', '_', '-')"
                )
            segments.append(segment)
    return join(root, *segments)


def parent(location: str) -> str:
    return posixpath.dirname(location.rstrip("/")) if is_remote(location) else str(Path(location).parent)


def relative(target: str, start_dir: str) -> str | None:
    """``target`` relative to the folder ``start_dir`` when both live in the same store (same
    local disk, or same bucket); None when a relative link cannot reach it."""
    if is_remote(target) != is_remote(start_dir):
        return None
    if is_remote(target):
        t_scheme, t_rest = target.split("://", 1)
        s_scheme, s_rest = start_dir.split("://", 1)
        if t_scheme != s_scheme or t_rest.split("/", 1)[0] != s_rest.split("/", 1)[0]:
            return None
        rel = posixpath.relpath("/" + t_rest, "/" + s_rest.rstrip("/"))
    else:
        rel = os.path.relpath(Path(target).resolve(), Path(start_dir).resolve())
    return rel if rel.startswith(".") else f"./{rel}"


def split_gcs(location: str) -> tuple[str, str]:
    if not is_gcs(location):
        raise ConfigError(f"{location!r} is not a gs://BUCKET/PATH location")
    bucket, _, name = location[len(GCS) :].partition("/")
    if not bucket:
        raise ConfigError(f"{location!r} names no bucket; write gs://BUCKET/PATH")
    return bucket, name


@functools.cache
def _client_for_process(pid: int, emulator: str | None) -> Any:
    from google.cloud import storage  # type: ignore[attr-defined]

    if emulator:
        from google.auth.credentials import AnonymousCredentials

        project = os.environ.get("GOOGLE_CLOUD_PROJECT", "eo-fusion-emulator")
        return storage.Client(project=project, credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    return storage.Client()


def gcs_client() -> Any:
    """One client per process (clients are not fork-safe), for the current emulator setting."""
    return _client_for_process(os.getpid(), os.environ.get("STORAGE_EMULATOR_HOST"))


def _blob(location: str) -> Any:
    bucket, name = split_gcs(location)
    return gcs_client().bucket(bucket).blob(name)


def _check_remote_scheme(location: str) -> None:
    if is_remote(location) and not is_gcs(location):
        scheme = location.split("://", 1)[0]
        raise ConfigError(f"cannot write to {scheme}:// ({location}); outputs go to a local folder or gs://")


# ---------------------------------------------------------------------------------- reading


def exists(location: str) -> bool:
    if is_gcs(location):
        return bool(_blob(location).exists())
    return Path(location).is_file()


def read_bytes(location: str) -> bytes:
    if is_gcs(location):
        from google.api_core.exceptions import NotFound

        try:
            data: bytes = _blob(location).download_as_bytes()
        except NotFound as exc:
            raise SceneNotFound(f"{location} does not exist") from exc
        return data
    path = Path(location)
    if not path.is_file():
        raise SceneNotFound(f"{location} does not exist")
    return path.read_bytes()


def size(location: str) -> int | None:
    """The size in bytes of a file or object; None when it does not exist."""
    if is_gcs(location):
        bucket, name = split_gcs(location)
        blob = gcs_client().bucket(bucket).get_blob(name)  # a fresh lookup: its metadata
        return None if blob is None else int(blob.size)
    path = Path(location)
    return path.stat().st_size if path.is_file() else None


#: Bytes per chunk of :func:`iter_bytes` (and of a GCS ranged download).
CHUNK_SIZE = 4 * 1024 * 1024


def iter_bytes(location: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The content of a file or object in chunks of at most ``chunk_size`` bytes, so a large
    file (a COG being checksummed) is never held in memory whole. Raises SceneNotFound when it
    does not exist."""
    if is_gcs(location):
        from google.api_core.exceptions import NotFound

        try:
            # A ranged, chunked reader (google-cloud-storage's BlobReader).
            with _blob(location).open("rb", chunk_size=chunk_size) as stream:
                while chunk := stream.read(chunk_size):
                    yield chunk
        except NotFound as exc:
            raise SceneNotFound(f"{location} does not exist") from exc
        return
    path = Path(location)
    if not path.is_file():
        raise SceneNotFound(f"{location} does not exist")
    with path.open("rb") as stream:
        while chunk := stream.read(chunk_size):
            yield chunk


def relative_name(location: str, root: str) -> str:
    """``location`` (found under the folder ``root``) as a '/'-separated path relative to it."""
    if is_remote(root):
        base = root.rstrip("/") + "/"
        if not location.startswith(base):
            raise ValueError(f"{location} is not under {root}")
        return location[len(base) :]
    return Path(location).relative_to(Path(root)).as_posix()


def list_files(prefix: str, suffix: str = "") -> list[str]:
    """Every file under the folder ``prefix`` (recursively) whose name ends with ``suffix``, sorted."""
    if is_gcs(prefix):
        bucket, name = split_gcs(prefix)
        folder = name.rstrip("/") + "/" if name else ""
        blobs = gcs_client().list_blobs(bucket, prefix=folder)
        return sorted(
            f"{GCS}{bucket}/{b.name}"
            for b in blobs
            if b.name.endswith(suffix) and not b.name.startswith(GCS_TMP_PREFIX)
        )
    root = Path(prefix)
    if not root.is_dir():
        return []
    return sorted(str(p) for p in root.rglob(f"*{suffix}") if p.is_file())


# ---------------------------------------------------------------------------------- writing


#: Where GCS writes stage their temporary objects (a bucket lifecycle rule can expire it).
GCS_TMP_PREFIX = "_eo-fusion-tmp/"


def partial_path(path: Path) -> Path:
    """A temporary name for writing ``path``, unique to this writer: ``.<name>.<pid>-<hex>.partial``
    in the same folder (so ``os.replace`` onto ``path`` is atomic). Two writers of one file never
    share it, so neither truncates or renames the other's half-written file. The leading dot and
    ``.partial`` mark it as no product (catalog updates skip such names)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(6)}.partial")


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Write a local file atomically: yields a fresh :func:`partial_path`; when the block
    succeeds it replaces ``path`` in one step, on any exception it is removed and ``path`` is left
    as it was. Readers see the old or the new content, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _gcs_generation(location: str) -> int:
    """Generation of the object now (0 when it does not exist), without reading it."""
    bucket_name, name = split_gcs(location)
    blob = gcs_client().bucket(bucket_name).get_blob(name)  # a fresh lookup, never a cached one
    return 0 if blob is None else int(blob.generation)


def _gcs_current(location: str) -> tuple[bytes | None, int]:
    """Content and generation of the object now (``None, 0`` when it does not exist)."""
    from google.api_core.exceptions import NotFound

    bucket_name, name = split_gcs(location)
    blob = gcs_client().bucket(bucket_name).get_blob(name)  # a fresh lookup, never a cached one
    if blob is None:
        return None, 0
    generation = int(blob.generation)
    try:
        data: bytes = blob.download_as_bytes(if_generation_match=generation)
    except NotFound:  # deleted between the lookup and the read
        return None, 0
    return data, generation


def _gcs_put(
    location: str,
    data: bytes | None,
    source: Path | None,
    content_type: str | None,
    expected_generation: int | None = None,
) -> None:
    """Upload to a temporary object, then copy it onto ``location`` with a generation
    precondition: ``expected_generation`` (the version the caller compared against; 0 = absent),
    or else the generation seen just before the copy. When the precondition fails, the write
    still counts as done if the object now holds exactly our content (a retried copy that had
    succeeded, or a concurrent writer of the same bytes); otherwise it is an error for
    ``expected_generation`` and one more look for a plain overwrite."""
    from google.api_core.exceptions import NotFound, PreconditionFailed

    bucket_name, name = split_gcs(location)
    bucket = gcs_client().bucket(bucket_name)
    tmp = bucket.blob(f"{GCS_TMP_PREFIX}{uuid.uuid4().hex}/{posixpath.basename(name)}")
    if source is not None:
        tmp.upload_from_filename(str(source), content_type=content_type)
    else:
        tmp.upload_from_string(data or b"", content_type=content_type)
    try:
        for _ in range(3):
            generation = expected_generation
            if generation is None:
                generation = _gcs_generation(location)
            try:
                bucket.copy_blob(tmp, bucket, name, if_generation_match=generation)
                return
            except PreconditionFailed:
                # Only now is our own content needed (a COG is read back from disk, not kept).
                now, _ = _gcs_current(location)
                if now == (source.read_bytes() if source is not None else data or b""):
                    return
                if expected_generation is not None:
                    raise OSError(
                        f"{location} changed while eo-fusion was updating it; run again to merge"
                    ) from None
        raise OSError(f"{location} kept changing while it was written; try again")
    finally:
        with contextlib.suppress(NotFound):
            tmp.delete()


def write_bytes(location: str, data: bytes, content_type: str | None = None) -> None:
    """Write a whole file atomically (readers see the old or the new content, never a part)."""
    _check_remote_scheme(location)
    if is_gcs(location):
        _gcs_put(location, data, None, content_type)
        return
    with replacing(Path(location)) as tmp:
        tmp.write_bytes(data)


def write_if_changed(location: str, data: bytes, content_type: str | None = None) -> bool:
    """Write unless the file already holds exactly ``data``; True when something was written.
    On GCS the write is conditional on the version that was compared, so a concurrent update
    is never silently overwritten."""
    _check_remote_scheme(location)
    if is_gcs(location):
        current, generation = _gcs_current(location)
        if current == data:
            return False
        _gcs_put(location, data, None, content_type, expected_generation=generation)
        return True
    try:
        if read_bytes(location) == data:
            return False
    except SceneNotFound:
        pass
    write_bytes(location, data, content_type)
    return True


def put_file(source: str | os.PathLike[str], location: str, content_type: str | None = None) -> None:
    """Move a finished local file (e.g. a COG written in a scratch folder) to ``location``."""
    _check_remote_scheme(location)
    src = Path(source)
    if is_gcs(location):
        _gcs_put(location, None, src, content_type)
        return
    dest = Path(location)
    if src.resolve() == dest.resolve():
        return
    with replacing(dest) as tmp:
        shutil.copyfile(src, tmp)


def delete(location: str) -> None:
    """Remove a file or object; one that does not exist is no error."""
    if is_gcs(location):
        from google.api_core.exceptions import NotFound

        with contextlib.suppress(NotFound):
            _blob(location).delete()
        return
    Path(location).unlink(missing_ok=True)
