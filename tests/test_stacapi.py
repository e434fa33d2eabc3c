"""Search and publishing against a real STAC API: stac-fastapi-pgstac on PostgreSQL + PostGIS."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pystac
import pytest
from shapely.geometry import box

from fusion.catalog import SearchRequest, search_static_catalog
from fusion.errors import AuthenticationError
from fusion.request import is_stac_api
from fusion.simulate import SimulationResult
from fusion.stacapi import TOKEN_ENV, StacApiPublisher, open_api, search_api
from pipelines.run import run_fusion
from tests.pipeline_fixtures import pipe_request
from tests.servers.http_range import range_server
from tests.servers.pgstac import pgstac_api

UTC = dt.UTC


def _catalog_dicts(
    catalog: Path, served_at: str | None = None
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(collection, items) of a static catalog, asset hrefs made absolute for the API: file
    paths, or with ``served_at`` the URLs of an HTTP server serving the catalog's folder."""
    cat = pystac.Catalog.from_file(str(catalog))
    root = catalog.parent.resolve()
    out = []
    for coll in cat.get_children():
        items = []
        for item in coll.get_items():
            item.make_asset_hrefs_absolute()
            if served_at is not None:
                for asset in item.assets.values():
                    asset.href = f"{served_at}/{Path(asset.href).resolve().relative_to(root).as_posix()}"
            items.append(item.to_dict(include_self_link=False, transform_hrefs=False))
        out.append((coll.to_dict(include_self_link=False, transform_hrefs=False), items))
    return out


@pytest.fixture(scope="module")
def loaded(stac_api: Any, small_sim: SimulationResult) -> tuple[Any, Path, int]:
    publisher = StacApiPublisher(stac_api.url)
    n = 0
    for coll, items in _catalog_dicts(small_sim.catalog_path):
        result = publisher.publish(coll, items)
        assert not result.updated and not result.unchanged  # a fresh database
        n += len(items)
    return stac_api, small_sim.catalog_path, n


def _ids(scenes: list[Any]) -> list[str]:
    return [s.id for s in scenes]


def test_search_through_pystac_client_equals_brute_force_over_several_pages(
    loaded: tuple[Any, Path, int],
) -> None:
    api, catalog, n = loaded
    assert n >= 15
    full = search_static_catalog(catalog, SearchRequest())
    aoi = box(*full[0].bbox).centroid.buffer(0.01)
    requests = [
        SearchRequest(),
        SearchRequest(collections=("landsat-c2-l2",)),
        SearchRequest(collections=("modis-09A1-061", "sentinel-2-l2a")),
        SearchRequest(
            start=dt.datetime(2023, 7, 1, tzinfo=UTC), end=dt.datetime(2023, 7, 15, 23, 59, 59, tzinfo=UTC)
        ),
        SearchRequest(
            start=dt.datetime(2023, 7, 3, tzinfo=UTC), end=dt.datetime(2023, 7, 3, 23, 59, 59, tzinfo=UTC)
        ),
        SearchRequest(aoi=aoi, max_cloud_cover=30.0),
        SearchRequest(max_cloud_cover=0.0),
        SearchRequest(aoi=box(10.0, 10.0, 10.1, 10.1)),
    ]
    for req in requests:
        found = search_api(api.url, req, page_size=4)
        expected = search_static_catalog(catalog, req)
        assert _ids(found.scenes) == _ids(expected), req
        assert found.dropped == [], req
    # The unfiltered search really pages: at 4 items a page, at least 4 pages.
    pages = list(open_api(api.url).search(limit=4, max_items=None).pages())
    assert len(pages) >= 4 and sum(len(p.items) for p in pages) == n


def test_publishing_twice_changes_nothing_and_a_change_is_an_update(
    loaded: tuple[Any, Path, int],
) -> None:
    api, catalog, _ = loaded
    publisher = StacApiPublisher(api.url)
    for coll, items in _catalog_dicts(catalog):
        again = publisher.publish(coll, items)
        assert again.created == again.updated == []
        assert len(again.unchanged) == len(items) + 1
    coll, items = _catalog_dicts(catalog)[0]
    changed = json.loads(json.dumps(items[0]))
    changed["properties"]["eo-fusion:note"] = "reprocessed"
    result = publisher.publish(coll, [changed])
    assert result.updated == [changed["id"]]
    stored = open_api(api.url).get_collection(coll["id"]).get_item(changed["id"])
    assert stored.properties["eo-fusion:note"] == "reprocessed"
    publisher.publish(coll, [items[0]])  # put it back for the other tests


@pytest.mark.slow
def test_a_run_searches_the_api_and_publishes_its_products_there_once(
    pipe_scenes: Path, tmp_path: Path
) -> None:
    """Scenes found through pystac-client in pgSTAC, products published back through
    Transactions; the products equal a run on the static catalog; a re-run publishes nothing."""
    # A database of its own: the module's other scenes share collection ids and area.
    with pgstac_api() as stac_api, range_server(pipe_scenes) as srv:
        _run_against_the_api(stac_api, pipe_scenes, tmp_path, srv.url)


def _run_against_the_api(stac_api: Any, pipe_scenes: Path, tmp_path: Path, served_at: str) -> None:
    publisher = StacApiPublisher(stac_api.url)
    for coll, items in _catalog_dicts(pipe_scenes / "catalog.json", served_at):
        publisher.publish(coll, items)  # same collection ids as the module's small simulation
    period = {"start": dt.date(2023, 6, 20), "end": dt.date(2023, 7, 12), "model": "naive"}
    local = pipe_request(pipe_scenes, tmp_path / "local", **period)
    via_api = dataclasses.replace(
        local, catalog=stac_api.url, output=str(tmp_path / "api"), stac_api=stac_api.url
    )
    first_local = run_fusion(local, tmp_path / "report-local")
    first = run_fusion(via_api, tmp_path / "report-api")
    assert first.dead_letters == first_local.dead_letters
    assert sorted(p["product_id"] for p in first.written) == sorted(
        p["product_id"] for p in first_local.written
    )
    for cog in (tmp_path / "local").rglob("*.tif"):
        assert (tmp_path / "api" / cog.relative_to(tmp_path / "local")).read_bytes() == cog.read_bytes()
    n = len(first.written)
    assert first.counters["stac_api_created"] == n + 1  # the collection and every product
    # Searching the API returns the fused items, assets pointing at the written COGs.
    found = list(open_api(stac_api.url).search(collections=["eo-fusion-spatiotemporal-naive"]).items())
    assert sorted(i.id for i in found) == sorted(p["product_id"] for p in first.written)
    for item in found:
        assert Path(item.assets["data"].href).is_file()
        assert any(lk.rel == "derived_from" for lk in item.links)
    again = run_fusion(via_api, tmp_path / "report-api-2")
    assert again.written == []
    assert again.counters["stac_api_unchanged"] == n + 1
    assert again.counters.get("stac_api_created", 0) == again.counters.get("stac_api_updated", 0) == 0


def test_fusion_search_source_lists_what_the_api_found(loaded: tuple[Any, Path, int]) -> None:
    api, catalog, _ = loaded
    from click.testing import CliRunner

    from pipelines.cli import main

    result = CliRunner().invoke(
        main, ["search", "--source", api.url, "--collections", "landsat-c2-l2", "--max-cloud", "50"]
    )
    assert result.exit_code == 0, result.output
    expected = search_static_catalog(
        catalog, SearchRequest(collections=("landsat-c2-l2",), max_cloud_cover=50.0)
    )
    assert f"{len(expected)} scene(s)" in result.output
    for scene in expected:
        assert scene.id in result.output


# ------------------------------------------------------ credentials and bulk transactions

TOKEN = "eo-fusion-test-token-3f9a1c"  # noqa: S105 (the test server's, nothing else's)
WRONG = "not-the-token-7b2e"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
#: items published in the request-counting tests: two bulk batches of at most 100
N_ITEMS = 150


def _many_items(sim: SimulationResult, n: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A collection of the simulation and ``n`` items in it: its items, copied under new ids."""
    coll, items = _catalog_dicts(sim.catalog_path)[0]
    many = []
    for k in range(n):
        item = json.loads(json.dumps(items[k % len(items)]))
        item["id"] = f"{item['id']}-copy{k:03d}"
        many.append(item)
    return coll, many


def _writes(requests: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """The requests that may write (``POST /search`` is a read)."""
    return [r for r in requests if r[0] in WRITES and r[1] != "/search"]


def test_a_token_protected_api_gets_the_bearer_token_and_without_it_the_user_is_told(
    small_sim: SimulationResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from pipelines.cli import main

    coll, items = _catalog_dicts(small_sim.catalog_path)[0]
    with pgstac_api(token=TOKEN) as api:  # every request needs the token, reads too
        for given in (None, WRONG):
            if given is None:
                monkeypatch.delenv(TOKEN_ENV, raising=False)
            else:
                monkeypatch.setenv(TOKEN_ENV, given)
            with pytest.raises(AuthenticationError) as refused:
                StacApiPublisher(api.url).publish(coll, items)
            message = str(refused.value)
            assert api.url in message and TOKEN_ENV in message and "HTTP 401" in message
            assert ("set " if given is None else "check it") in message
            assert TOKEN not in message and WRONG not in message
            with pytest.raises(AuthenticationError, match=TOKEN_ENV):
                search_api(api.url, SearchRequest())
            with pytest.raises(AuthenticationError, match=TOKEN_ENV):  # not taken for a static catalog
                is_stac_api(api.url)
            cli = CliRunner().invoke(main, ["search", "--source", api.url])
            assert cli.exit_code == 2, cli.output
            assert f"error: {api.url}" in cli.output and TOKEN_ENV in cli.output
            assert "Traceback" not in cli.output and WRONG not in cli.output
        refused_requests = api.requests()
        assert refused_requests and {status for _, _, status in refused_requests} == {401}

        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        assert is_stac_api(api.url)
        # Nothing was half-written by the refused attempts: the API holds no item, no collection.
        assert search_api(api.url, SearchRequest()).scenes == []
        assert all(c.id != coll["id"] for c in open_api(api.url).get_collections())
        result = StacApiPublisher(api.url).publish(coll, items)
        assert len(result.created) == len(items) + 1
        found = search_api(api.url, SearchRequest(collections=(coll["id"],)))
        assert sorted(_ids(found.scenes)) == sorted(i["id"] for i in items)
        cli = CliRunner().invoke(main, ["search", "--source", api.url, "--collections", coll["id"]])
        assert cli.exit_code == 0, cli.output
        assert f"{len(items)} scene(s)" in cli.output and TOKEN not in cli.output
        # Every request after the token was set carried it (none was refused).
        assert {status for _, _, status in api.requests()[len(refused_requests) :]} <= {200, 201, 404}


def test_with_bulk_transactions_items_go_in_batches_and_a_second_publish_writes_nothing(
    small_sim: SimulationResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    coll, items = _many_items(small_sim, N_ITEMS)
    cid = coll["id"]
    with pgstac_api(token=TOKEN, protect="write") as api:  # reads public, writes need the token
        assert StacApiPublisher(api.url).supports_bulk()
        # A wrong token: the reads pass, the first write is refused, nothing is written.
        monkeypatch.setenv(TOKEN_ENV, WRONG)
        with pytest.raises(AuthenticationError, match=f"refused the bearer token in {TOKEN_ENV}"):
            StacApiPublisher(api.url).publish(coll, items)
        assert [r for r in _writes(api.requests()) if r[2] != 401] == []
        assert all(c.id != cid for c in open_api(api.url).get_collections())
        assert search_api(api.url, SearchRequest()).scenes == []

        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        mark = len(api.requests())
        first = StacApiPublisher(api.url).publish(coll, items)
        assert len(first.created) == N_ITEMS + 1 and first.updated == first.unchanged == []
        sent = api.requests()[mark:]
        bulk = [r for r in sent if r[1] == f"/collections/{cid}/bulk_items"]
        assert len(bulk) == math.ceil(N_ITEMS / 100) and {r[2] for r in bulk} == {200}
        assert _writes(sent) == [("POST", "/collections", 201), *bulk]  # no request per item
        assert len(sent) <= 10, sent
        found = search_api(api.url, SearchRequest(collections=(cid,)))
        assert sorted(_ids(found.scenes)) == sorted(i["id"] for i in items)

        # Publishing the same again writes nothing.
        mark = len(api.requests())
        again = StacApiPublisher(api.url).publish(coll, items)
        assert again.created == again.updated == [] and len(again.unchanged) == N_ITEMS + 1
        assert _writes(api.requests()[mark:]) == []

        # One changed item: one bulk request, one item updated, the rest left alone.
        changed = json.loads(json.dumps(items[7]))
        changed["properties"]["eo-fusion:note"] = "reprocessed"
        mark = len(api.requests())
        third = StacApiPublisher(api.url).publish(coll, [*items[:7], changed, *items[8:]])
        assert third.updated == [changed["id"]] and len(third.unchanged) == N_ITEMS
        assert _writes(api.requests()[mark:]) == [("POST", f"/collections/{cid}/bulk_items", 200)]
        stored = open_api(api.url).get_collection(cid).get_item(changed["id"])
        assert stored.properties["eo-fusion:note"] == "reprocessed"


def test_without_bulk_transactions_each_item_is_published_on_its_own(
    small_sim: SimulationResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    coll, items = _many_items(small_sim, N_ITEMS)
    cid = coll["id"]
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pgstac_api(bulk=False) as api:
        assert not StacApiPublisher(api.url).supports_bulk()
        first = StacApiPublisher(api.url).publish(coll, items)
        assert len(first.created) == N_ITEMS + 1
        sent = api.requests()
        assert not any(path.endswith("/bulk_items") for _, path, _ in sent)
        assert [r for r in _writes(sent) if r[1] == f"/collections/{cid}/items"] == [
            ("POST", f"/collections/{cid}/items", 201)
        ] * N_ITEMS
        found = search_api(api.url, SearchRequest(collections=(cid,)))
        assert sorted(_ids(found.scenes)) == sorted(i["id"] for i in items)
        mark = len(sent)
        again = StacApiPublisher(api.url).publish(coll, items)
        assert again.created == again.updated == [] and len(again.unchanged) == N_ITEMS + 1
        assert _writes(api.requests()[mark:]) == []
