"""No writer writes outside the output root. Names with ``..``, ``/`` or nothing in them are
planted where each writer takes a name - product ids, collection ids and folders
(write_product), model names (publish_model), links and model ids in the output's own catalog
files (update_catalog), task names (register_task) and input item ids (a whole run) - and
every one is refused or ignored, with nothing written outside the output."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fusion import storage
from fusion.errors import OutputPathError
from fusion.models import get_metadata, resolve_model
from fusion.models.package import package_checksum
from fusion.product_stac import publish_model, update_catalog
from fusion.publish import write_product
from fusion.tasks import register_task, unregister_task
from pipelines.run import run_fusion
from pipelines.stages.blocks import job_product
from tests.pipeline_fixtures import pipe_request
from tests.test_pipeline import TASK, _jobs

#: Names that would leave a folder they are joined to (the last escapes to /tmp itself).
ESCAPING = ["..", "../escape", "a/../../escape", "x/../../../../../../../../../../../../tmp/ESCAPED",
            "/tmp/ESCAPED_ABS", "", ".", "a\\..\\escape"]  # fmt: skip  # noqa: S108


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def deep(tmp_path: Path) -> Iterator[Path]:
    """An output four folders below tmp_path, so a '..' escape lands where the test looks;
    and no /tmp/ESCAPED* before or after."""
    out = tmp_path / "a" / "b" / "c" / "d" / "out"
    out.mkdir(parents=True)
    yield out
    escaped = list(Path("/tmp").glob("ESCAPED*"))  # noqa: S108
    for p in escaped:
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    assert not escaped, f"written outside the output: {escaped}"


@pytest.mark.parametrize("name", ESCAPING)
def test_join_inside_refuses_every_escaping_name(name: str, tmp_path: Path) -> None:
    with pytest.raises(OutputPathError, match="would leave the output"):
        storage.join_inside(str(tmp_path), "ok", name)
    assert storage.join_inside("gs://b/out", "eo-fusion-x", "t/2023") == "gs://b/out/eo-fusion-x/t/2023"


@pytest.mark.parametrize("field", ["product_id", "relative_dir", "collection_dir"])
@pytest.mark.parametrize("name", ESCAPING[1:5])
def test_write_product_refuses_escaping_ids_and_folders(
    pipe_scenes: Path, deep: Path, field: str, name: str
) -> None:
    request = pipe_request(pipe_scenes, deep)
    job, tile = _jobs(request)[0]
    meta = get_metadata("starfm")
    spec = job_product(job, TASK, meta, package_checksum(resolve_model("starfm")), "starfm", 128)
    if field == "collection_dir":  # the collection id is the first folder
        bad = dataclasses.replace(spec, relative_dir=f"{name}/{spec.tile_id}/2023")
    else:
        bad = dataclasses.replace(spec, **{field: name})
    before = _files(deep.parents[4])
    data = np.zeros((len(spec.bands), *tile.shape), np.float32)
    with pytest.raises(OutputPathError):
        write_product(bad, str(deep), tile, data, np.ones(tile.shape, bool))
    assert _files(deep.parents[4]) == before


@pytest.mark.parametrize("name", ESCAPING[1:5])
def test_publish_model_refuses_an_escaping_model_name(deep: Path, name: str) -> None:
    """ModelMetadata refuses such names when a package is read; the writer refuses them too,
    should one be made in code past that check."""
    package = resolve_model("naive")
    meta = get_metadata("naive")
    object.__setattr__(meta, "name", name)  # past the dataclass's own check
    before = _files(deep.parents[4])
    with pytest.raises(OutputPathError):
        publish_model(str(deep), package, meta, package_checksum(package))
    assert _files(deep.parents[4]) == before


@pytest.mark.parametrize("name", ["../escape", "/abs", "a/b", ""])
def test_a_task_with_a_path_for_a_name_is_not_registered(name: str) -> None:
    task = type("Hostile", (type(TASK),), {"name": name})()
    with pytest.raises(ValueError, match="task name"):
        register_task(task)
    unregister_task(name)


@pytest.fixture
def finished(pipe_scenes: Path, tmp_path: Path) -> Path:
    """An output with the products of a small naive run, four folders below tmp_path."""
    out = tmp_path / "a" / "b" / "c" / "d" / "out"
    summary = run_fusion(pipe_request(pipe_scenes, out, model="naive"), tmp_path / "report")
    assert summary.written
    return out


def _edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_update_catalog_never_follows_links_or_model_ids_out_of_the_output(
    finished: Path, tmp_path: Path
) -> None:
    catalog = finished / "catalog.json"
    (collection,) = finished.glob("eo-fusion-*/collection.json")
    item = next(p for p in collection.parent.rglob("*.json") if p.name != "collection.json")
    outside = tmp_path / "a" / "outside"
    outside.mkdir()
    (outside / "collection.json").write_text(json.dumps({"type": "Collection", "links": []}))
    (outside / "evil.json").write_text(json.dumps({"type": "Feature", "id": "evil"}))
    _edit(catalog, lambda c: c["links"].append({"rel": "child", "href": "../../../outside/collection.json"}))
    _edit(collection, lambda c: c["links"].append({"rel": "item", "href": "../../../../outside/evil.json"}))
    _edit(item, lambda i: i["properties"]["eo-fusion:model"].update(item="../../../../../tmp/ESCAPED"))
    before = {p: p.read_bytes() for p in _files(tmp_path) if finished not in p.parents}

    result = update_catalog(str(finished))
    after = {p: p.read_bytes() for p in _files(tmp_path) if finished not in p.parents}
    assert after == before, "a file outside the output changed"
    assert not list(Path("/tmp").glob("ESCAPED*"))  # noqa: S108
    assert any("evil.json" in s.location for s in result.skipped), result.skipped
    links = json.loads(catalog.read_text())["links"]
    assert not [lk for lk in links if "outside" in lk["href"]]


def test_an_input_item_id_with_dots_and_slashes_stays_a_name(pipe_scenes: Path, tmp_path: Path) -> None:
    """Input item ids reach products only as ids (in the hash, the lineage and derived_from
    titles), never as paths: a run on a catalog whose Landsat item is called
    ``../../../../escape`` writes only under its output and report."""
    scenes = tmp_path / "a" / "b" / "scenes"
    shutil.copytree(pipe_scenes, scenes)
    item = next(p for p in scenes.rglob("*.json") if "landsat" in str(p) and "collection" not in p.name)
    _edit(item, lambda i: i.update(id="../../../../escape"))
    before = _files(tmp_path)
    out, report = tmp_path / "a" / "b" / "out", tmp_path / "a" / "b" / "report"
    summary = run_fusion(pipe_request(scenes, out, model="naive"), report)
    assert summary.written, summary.text()
    new = _files(tmp_path) - before
    assert new and all(out in p.parents or report in p.parents for p in new), sorted(new - _files(out))
