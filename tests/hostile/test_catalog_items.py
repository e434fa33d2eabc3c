"""Hostile catalog input: datetimes with UTC offsets, and items that cannot be used.

Every date eo-fusion takes from a scene is the UTC date of its instant, whatever offset the
item states; an item with a null or unreadable datetime, or a file that is not a JSON object,
is dropped with its reason (a ``skipped`` dead letter of stage ``search`` in a run, a warning
of ``fusion search``) while the rest of the search goes on.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fusion.catalog import (
    DroppedItem,
    SearchRequest,
    as_utc_range,
    item_datetime,
    item_interval,
    search_static_catalog,
)
from fusion.errors import CatalogError, FusionError
from fusion.pairing import Observation
from fusion.request import search_scenes
from pipelines.cli import main
from pipelines.records import dead_letter
from tests.pipeline_fixtures import pipe_request

UTC = dt.UTC
LANDSAT = "landsat-c2-l2"
MODIS = "modis-09A1-061"
#: Items of the pipeline fixture (Landsat 8 every 16 days, MODIS 8-day composites).
L0609, L0625, L0711, L0727 = (f"LC08_L2SP_028034_2023{d}_02_T1" for d in ("0609", "0625", "0711", "0727"))
M169 = "MOD09A1.A2023169.h10v05.061"  # 2023-06-18 .. 06-25


@pytest.fixture
def scenes(pipe_scenes: Path, tmp_path: Path) -> Path:
    """A private copy of the pipeline fixture's catalog, to corrupt."""
    out = tmp_path / "scenes"
    shutil.copytree(pipe_scenes, out, ignore=shutil.ignore_patterns("truth"))
    return out


def item_file(catalog: Path, collection: str, item_id: str) -> Path:
    return catalog / collection / item_id / f"{item_id}.json"


def edit_properties(path: Path, **props: Any) -> None:
    """Set (or, with None, null) properties of an item file; its other fields stay."""
    data = json.loads(path.read_text())
    data["properties"].update(props)
    path.write_text(json.dumps(data, indent=2))


def plant_item_file(catalog: Path, collection: str, name: str, text: str) -> Path:
    """A file ``name`` holding ``text``, linked from ``collection`` as one of its items."""
    path = catalog / collection / name / f"{name}.json"
    path.parent.mkdir()
    path.write_text(text)
    coll_path = catalog / collection / "collection.json"
    coll = json.loads(coll_path.read_text())
    coll["links"].append({"rel": "item", "href": f"./{name}/{name}.json", "type": "application/geo+json"})
    coll_path.write_text(json.dumps(coll, indent=2))
    return path


def plant_bad_items(catalog: Path) -> dict[str, Path]:
    """Four bad items: a null datetime (no range), "yesterday", not JSON, a JSON array."""
    null = item_file(catalog, LANDSAT, L0609)
    edit_properties(null, datetime=None)
    yesterday = item_file(catalog, LANDSAT, L0727)
    edit_properties(yesterday, datetime="yesterday")
    return {
        "null": null,
        "yesterday": yesterday,
        "not-json": plant_item_file(catalog, LANDSAT, "garbage", "<html>502 Bad Gateway</html>"),
        "array": plant_item_file(catalog, MODIS, "an-array", "[1, 2, 3]"),
    }


def reason_of(dropped: list[DroppedItem], path: Path) -> str:
    [match] = [d for d in dropped if Path(d.item) == path.resolve()]
    assert match.href == match.item
    return match.reason


# ------------------------------------------------------------------------------------ (a) UTC


def test_item_datetimes_are_utc_instants_whatever_their_offset() -> None:
    east = item_datetime({"datetime": "2023-06-10T07:02:11+14:00"})
    assert east == dt.datetime(2023, 6, 9, 17, 2, 11, tzinfo=UTC)
    assert east.utcoffset() == dt.timedelta(0) and east.date() == dt.date(2023, 6, 9)
    # Naive is UTC; Z and +00:00 are the same.
    assert item_datetime({"datetime": "2023-06-10T07:02:11"}) == dt.datetime(
        2023, 6, 10, 7, 2, 11, tzinfo=UTC
    )
    assert item_datetime({"datetime": "2023-06-10T07:02:11Z"}).utcoffset() == dt.timedelta(0)
    start, end = item_interval(
        {
            "datetime": None,
            "start_datetime": "2023-06-17T19:00:00-05:00",
            "end_datetime": "2023-06-26T04:59:59+05:00",
        }
    )
    assert (start, end) == (
        dt.datetime(2023, 6, 18, tzinfo=UTC),
        dt.datetime(2023, 6, 25, 23, 59, 59, tzinfo=UTC),
    )
    assert start.tzinfo == UTC and end.tzinfo == UTC
    # A composite's acquisition time is its period start, in UTC too.
    assert (
        item_datetime(
            {
                "datetime": None,
                "start_datetime": "2023-06-18T05:00:00+05:00",
                "end_datetime": "2023-06-26T00:00:00Z",
            }
        )
        == start
    )


@pytest.mark.parametrize(
    ("props", "match"),
    [
        ({"datetime": "yesterday"}, "datetime 'yesterday' is not an RFC 3339 date-time"),
        ({"datetime": 1686380531}, "datetime 1686380531 is a JSON number"),
        ({"datetime": None}, "neither datetime nor start_datetime/end_datetime"),
        (
            {"datetime": None, "start_datetime": "2023-06-18T00:00:00Z"},
            "datetime is null and end_datetime is not set",
        ),
        (
            {"datetime": None, "start_datetime": "2023-06-18T00:00:00Z", "end_datetime": "soon"},
            "end_datetime 'soon'",
        ),
        (
            {
                "datetime": None,
                "start_datetime": "2023-06-18T00:00:00Z",
                "end_datetime": "2023-06-17T00:00:00Z",
            },
            "is before start_datetime",
        ),
    ],
)
def test_unreadable_item_dates_are_catalog_errors_naming_the_value(props: dict[str, Any], match: str) -> None:
    with pytest.raises(CatalogError, match=match) as err:
        item_interval(props)
    assert isinstance(err.value, FusionError)


def test_the_search_period_is_utc() -> None:
    plus14 = dt.timezone(dt.timedelta(hours=14))
    req = SearchRequest(start=dt.datetime(2023, 6, 10, 7, tzinfo=plus14), end=dt.datetime(2023, 6, 12))
    assert req.start == dt.datetime(2023, 6, 9, 17, tzinfo=UTC) and req.start.tzinfo == UTC
    assert req.end == dt.datetime(2023, 6, 12, tzinfo=UTC)  # naive: UTC
    t0, _ = as_utc_range(dt.datetime(2023, 6, 10, 7, tzinfo=plus14), None)
    assert t0 is not None and t0.tzinfo == UTC and t0.hour == 17


def test_offset_items_become_scenes_on_their_utc_date(scenes: Path) -> None:
    # 2023-06-25T17:02:11Z written as the same instant in +14:00 and -05:00.
    edit_properties(item_file(scenes, LANDSAT, L0625), datetime="2023-06-26T07:02:11+14:00")
    edit_properties(item_file(scenes, LANDSAT, L0711), datetime="2023-07-11T12:02:11-05:00")
    # 2023-07-27T17:02:11Z moved to 07:02:11+14:00 of the 27th: the 26th in UTC (local date 27th).
    edit_properties(item_file(scenes, LANDSAT, L0727), datetime="2023-07-27T07:02:11+14:00")
    # The composite 06-18 00:00 .. 06-25 23:59:59 UTC, in -05:00 and +05:00.
    edit_properties(
        item_file(scenes, MODIS, M169),
        start_datetime="2023-06-17T19:00:00-05:00",
        end_datetime="2023-06-26T04:59:59+05:00",
    )
    found = {s.id: s for s in search_static_catalog(scenes, SearchRequest())}
    assert found[L0625].datetime == dt.datetime(2023, 6, 25, 17, 2, 11, tzinfo=UTC)
    assert found[L0711].datetime == dt.datetime(2023, 7, 11, 17, 2, 11, tzinfo=UTC)
    assert found[L0727].datetime == dt.datetime(2023, 7, 26, 17, 2, 11, tzinfo=UTC)
    modis = found[M169]
    assert (modis.start_datetime, modis.end_datetime) == (
        dt.datetime(2023, 6, 18, tzinfo=UTC),
        dt.datetime(2023, 6, 25, 23, 59, 59, tzinfo=UTC),
    )
    assert modis.datetime == modis.start_datetime  # datetime null: the period start
    for scene in found.values():
        for value in (scene.datetime, scene.start_datetime, scene.end_datetime):
            assert value.utcoffset() == dt.timedelta(0), (scene.id, value)
    # Pairing takes the UTC date.
    obs = Observation(found[L0727], "fine", "t", 1.0)
    assert obs.date == dt.date(2023, 7, 26)
    assert Observation(modis, "coarse", "t", 1.0).period == (dt.date(2023, 6, 18), dt.date(2023, 6, 25))
    # The period filter compares UTC instants: the UTC day 07-26 holds the 07-27 +14:00 item ...
    t0, t1 = as_utc_range(dt.date(2023, 7, 26), dt.date(2023, 7, 26))
    assert [
        s.id for s in search_static_catalog(scenes, SearchRequest(start=t0, end=t1, collections=(LANDSAT,)))
    ] == [L0727]
    # ... and the UTC day 06-26 not the 06-26 +14:00 one (06-25 in UTC).
    t0, t1 = as_utc_range(dt.date(2023, 6, 26), dt.date(2023, 6, 26))
    assert search_static_catalog(scenes, SearchRequest(start=t0, end=t1, collections=(LANDSAT,))) == []


# ------------------------------------------------------------------------------- (b) bad items


def test_bad_items_are_dropped_with_their_reason_and_the_search_goes_on(scenes: Path) -> None:
    everything = {s.id for s in search_static_catalog(scenes, SearchRequest())}
    bad = plant_bad_items(scenes)
    dropped: list[DroppedItem] = []
    found = search_static_catalog(scenes, SearchRequest(), dropped)
    assert {s.id for s in found} == everything - {L0609, L0727}
    assert len(dropped) == 4
    assert f"item {L0609!r}: neither datetime nor start_datetime/end_datetime is set" == reason_of(
        dropped, bad["null"]
    )
    assert "datetime 'yesterday' is not an RFC 3339 date-time" in reason_of(dropped, bad["yesterday"])
    assert L0727 in reason_of(dropped, bad["yesterday"])
    assert reason_of(dropped, bad["not-json"]).startswith("the item file is not JSON")
    assert reason_of(dropped, bad["array"]) == "is a JSON array, not a STAC Item object"
    assert all(str(d.href) in d.text() and d.reason in d.text() for d in dropped)


def test_without_a_list_the_dropped_items_are_logged(scenes: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = plant_bad_items(scenes)
    with caplog.at_level(logging.WARNING, logger="eo-fusion"):
        found = search_static_catalog(scenes, SearchRequest(collections=(LANDSAT,)))
    assert {s.id for s in found} == {L0625, L0711}
    text = caplog.text
    assert str(bad["yesterday"].resolve()) in text and "'yesterday'" in text
    assert str(bad["not-json"].resolve()) in text
    # A document that is not a JSON object names no collection: it is reported whatever the
    # request's collections.
    assert str(bad["array"].resolve()) in text


def test_a_missing_item_file_and_a_non_item_are_dropped_too(scenes: Path) -> None:
    missing = item_file(scenes, LANDSAT, L0609)
    missing.unlink()
    catalog = plant_item_file(scenes, LANDSAT, "a-catalog", json.dumps({"type": "Catalog", "id": "x"}))
    dropped: list[DroppedItem] = []
    found = search_static_catalog(scenes, SearchRequest(collections=(LANDSAT,)), dropped)
    assert {s.id for s in found} == {L0625, L0711, L0727}
    assert reason_of(dropped, missing) == "the item file does not exist"
    assert reason_of(dropped, catalog) == "item 'x' is not a STAC Item (its type is 'Catalog', not 'Feature')"


def test_search_scenes_hands_the_dropped_items_to_its_caller(scenes: Path, tmp_path: Path) -> None:
    bad = plant_bad_items(scenes)
    dropped: list[DroppedItem] = []
    found = search_scenes(pipe_request(scenes, tmp_path / "out"), dropped=dropped)
    assert found and {s.scene.id for s in found}.isdisjoint({L0609, L0727})
    assert {Path(d.item) for d in dropped} == {p.resolve() for p in bad.values()}


def test_a_stac_api_item_with_a_bad_datetime_does_not_stop_the_search(
    scenes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pystac-client's items go through the same per-item adapter (a fake client here)."""
    from fusion import stacapi

    items = [json.loads(p.read_text()) for p in sorted((scenes / LANDSAT).glob("*/*.json"))]
    items[0]["properties"]["datetime"] = "yesterday"
    items[1]["properties"]["datetime"] = None
    items[2]["properties"]["datetime"] = "2023-07-12T07:02:11+14:00"  # 07-11 in UTC

    class Search:
        def items_as_dicts(self) -> list[dict[str, Any]]:
            return items

    class Client:
        def conforms_to(self, _: str) -> bool:
            return True

        def search(self, **_: Any) -> Search:
            return Search()

    monkeypatch.setattr(stacapi, "open_api", lambda url: Client())
    t0, t1 = as_utc_range(dt.date(2023, 6, 1), dt.date(2023, 7, 20))
    found = stacapi.search_api("https://stac.example", SearchRequest(start=t0, end=t1))
    assert [s.id for s in found.scenes] == [L0711]
    assert found.scenes[0].datetime == dt.datetime(2023, 7, 11, 17, 2, 11, tzinfo=UTC)
    assert [(d.item, d.reason) for d in found.dropped] == [
        (
            L0609,
            f"item {L0609!r}: datetime 'yesterday' is not an RFC 3339 date-time such as 2023-06-10T17:02:11Z",
        ),
        (L0625, f"item {L0625!r}: neither datetime nor start_datetime/end_datetime is set"),
    ]
    assert found.filtered_here == [L0727]  # outside the period: the API could have filtered it


# ------------------------------------------------------------------------------ (c) pipeline


def test_a_run_completes_with_the_bad_items_as_search_dead_letters_and_utc_products(
    scenes: Path, tmp_path: Path
) -> None:
    from pipelines.run import run_fusion

    yesterday = item_file(scenes, LANDSAT, L0727)
    edit_properties(yesterday, datetime="yesterday")
    garbage = plant_item_file(scenes, MODIS, "garbage", "not json at all")
    # Every MODIS period in -05:00 / +05:00 (same instants): the products must still say UTC.
    for path in (scenes / MODIS).glob("MOD09A1*/*.json"):
        props = json.loads(path.read_text())["properties"]
        start = dt.datetime.fromisoformat(props["start_datetime"])
        end = dt.datetime.fromisoformat(props["end_datetime"])
        edit_properties(
            path,
            start_datetime=start.astimezone(dt.timezone(dt.timedelta(hours=-5))).isoformat(),
            end_datetime=end.astimezone(dt.timezone(dt.timedelta(hours=5))).isoformat(),
        )
    request = pipe_request(
        scenes, tmp_path / "out", model="naive", start=dt.date(2023, 6, 18), end=dt.date(2023, 6, 30)
    )
    summary = run_fusion(request, tmp_path / "report")
    search = [r for r in summary.dead_letters if r["stage"] == "search"]
    by_key = {r["key"]: r for r in search}
    assert set(by_key) == {str(yesterday.resolve()), str(garbage.resolve())}, summary.dead_letters
    assert all(r["kind"] == "skipped" for r in search)
    assert "datetime 'yesterday' is not an RFC 3339 date-time" in by_key[str(yesterday.resolve())]["reason"]
    assert by_key[str(garbage.resolve())]["asset"] == str(garbage.resolve())
    assert "the item file is not JSON" in by_key[str(garbage.resolve())]["reason"]
    text = summary.text()
    assert "search   skipped the item file is not JSON" in text, text
    assert not [r for r in summary.dead_letters if r["kind"] == "failed"], text
    # The run went on: products of the UTC dates, with UTC datetimes.
    assert summary.written, text
    for product in summary.written:
        props = json.loads(Path(product["item"]).read_text())["properties"]
        assert props["start_datetime"].endswith("T00:00:00Z"), props
        assert props["end_datetime"].endswith("T23:59:59Z"), props
        assert props["datetime"] == props["start_datetime"]
        day = props["start_datetime"][:10].replace("-", "")
        assert f"-{day}-" in product["product_id"]
    assert summary.counters.get("items_dropped") == 2


def test_the_dry_run_plan_lists_a_dropped_item_on_no_tile() -> None:
    from pipelines.plan import PlanRow, _dead_letter_row

    record = dead_letter("search", "/c/x.json: the item file is not JSON", key="/c/x.json", kind="skipped")
    row = PlanRow.from_json(json.loads(_dead_letter_row(record)))
    assert (row.tile, row.date, row.action, row.scene) == ("-", "-", "skip", "/c/x.json")
    assert row.reason == "search skipped: /c/x.json: the item file is not JSON"


# ----------------------------------------------------------------------------------- (d) CLI


def test_fusion_search_warns_about_each_dropped_item_and_exits_0(scenes: Path) -> None:
    bad = plant_bad_items(scenes)
    runner = CliRunner()
    table = runner.invoke(main, ["search", str(scenes)])
    assert table.exit_code == 0, table.output
    for path in bad.values():
        assert f"warning: skipped item {path.resolve()}: " in table.stderr
    assert "datetime 'yesterday' is not an RFC 3339 date-time" in table.stderr
    assert "warning: 4 item(s) skipped" in table.stderr
    assert L0625 in table.stdout and L0727 not in table.stdout
    as_json = runner.invoke(main, ["search", str(scenes), "--json", "--collections", LANDSAT])
    assert as_json.exit_code == 0, as_json.output
    assert [json.loads(line)["id"] for line in as_json.stdout.splitlines()] == [L0625, L0711]
    assert str(bad["yesterday"].resolve()) in as_json.stderr
