"""STAC APIs: item search through pystac-client, and publishing through the Transactions extension.

Search sends what the API can filter (collections, intersects, datetime, and the cloud limit
through the Query extension when the API conforms to it) and pages through the results with a
maximum; whatever the API cannot filter is filtered here with the same rule as the static
catalog search. HTTP 429/5xx and time-outs are retried with backoff (urllib3 ``Retry``).

Publishing is idempotent: an object is created when absent, replaced when different, and left
alone when the API already holds the same content, so publishing twice changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pystac
from shapely.geometry import mapping

from fusion.catalog import Scene, SearchRequest, item_matches, scene_from_item
from fusion.errors import CatalogError, FusionError
from fusion.remote import RETRY_STATUS

log = logging.getLogger("eo-fusion")


def _retry() -> Any:
    from urllib3.util.retry import Retry

    return Retry(
        total=5,
        backoff_factor=0.25,
        status_forcelist=RETRY_STATUS,
        allowed_methods=None,  # search is a POST; retrying it is safe (read-only)
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def open_api(url: str, headers: Mapping[str, str] | None = None) -> Any:
    """A pystac-client Client for ``url`` with retries and time-outs."""
    from pystac_client import Client
    from pystac_client.stac_api_io import StacApiIO

    try:
        io = StacApiIO(headers=dict(headers or {}), max_retries=_retry(), timeout=60)
        return Client.open(url, stac_io=io)
    except Exception as exc:
        raise CatalogError(f"cannot open the STAC API at {url}: {exc}") from exc


@dataclass
class ApiSearch:
    """What a search returned: scenes, and items dropped with the reason."""

    scenes: list[Scene]
    dropped: list[tuple[str, str]] = field(default_factory=list)
    filtered_by_api: tuple[str, ...] = ()
    #: the search stopped at ``max_items``: there may be more matching items
    truncated: bool = False


def search_api(
    url: str, req: SearchRequest, *, max_items: int | None = None, page_size: int = 100
) -> ApiSearch:
    """Scenes from a STAC API that satisfy ``req``, sorted like the static catalog search.
    ``max_items`` stops early (for browsing); the pipeline reads every page, since a missing
    reference scene would silently change what is fused."""
    client = open_api(url)
    kwargs: dict[str, Any] = {"limit": page_size, "max_items": max_items}
    by_api = []
    if req.collections is not None:
        kwargs["collections"] = list(req.collections)
        by_api.append("collections")
    if req.aoi is not None:
        kwargs["intersects"] = mapping(req.aoi)
        by_api.append("intersects")
    if req.start is not None or req.end is not None:
        start = req.start.isoformat().replace("+00:00", "Z") if req.start else ".."
        end = req.end.isoformat().replace("+00:00", "Z") if req.end else ".."
        kwargs["datetime"] = f"{start}/{end}"
        by_api.append("datetime")
    if req.max_cloud_cover is not None and client.conforms_to("QUERY"):
        kwargs["query"] = {"eo:cloud_cover": {"lte": req.max_cloud_cover}}
        by_api.append("query eo:cloud_cover")
    try:
        items = list(client.search(**kwargs).items_as_dicts())
    except FusionError:
        raise
    except Exception as exc:
        raise CatalogError(f"search at {url} failed: {exc}") from exc
    scenes, dropped = [], []
    for data in items:
        if not item_matches(data, req):  # what the API could not (or did not) filter
            dropped.append((data.get("id", "?"), "does not match the request (filtered here)"))
            continue
        try:
            scenes.append(scene_from_item(pystac.Item.from_dict(data)))
        except FusionError as exc:
            dropped.append((data.get("id", "?"), str(exc)))
    scenes.sort(key=lambda s: (s.datetime, s.collection, s.id))
    truncated = max_items is not None and len(items) >= max_items
    if truncated:
        log.warning("search at %s stopped at %d items; more may match", url, max_items)
    return ApiSearch(scenes, dropped, tuple(by_api), truncated)


# ------------------------------------------------------------------------------- publishing


@dataclass
class PublishResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def text(self) -> str:
        return f"created {len(self.created)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}"


def _session(headers: Mapping[str, str] | None) -> Any:
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    session.headers.update(dict(headers or {}))
    adapter = HTTPAdapter(max_retries=_retry())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


#: Link relations the API manages itself (it makes them for its own URLs), and the static
#: catalog's structure links (item/child), which mean nothing to an API.
SERVER_LINKS = frozenset(
    {
        "self", "root", "parent", "collection", "items", "item", "child", "next", "prev",
        "http://www.opengis.net/def/rel/ogc/1.0/queryables",
    }
)  # fmt: skip


def _body(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object as sent: our own links (derived_from, license, ...) kept, navigation dropped."""
    links = [lk for lk in obj.get("links", []) if lk.get("rel") not in SERVER_LINKS]
    out: dict[str, Any] = json.loads(json.dumps({**obj, "links": links}))
    return out


def _content(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What publishing compares: the body as plain values, null properties left out (pgstac
    returns an item's ``"datetime": null`` as an absent key). Compared with ``==``, so ``30``
    and ``30.0`` (a JSON round trip may turn one into the other) are the same."""
    body = _body(obj)
    if isinstance(body.get("properties"), dict):
        body["properties"] = {k: v for k, v in body["properties"].items() if v is not None}
    return body


class StacApiPublisher:
    """Create or update collections and items through the Transactions extension."""

    def __init__(self, url: str, headers: Mapping[str, str] | None = None, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.session = _session(headers)
        self.timeout = timeout

    def _get(self, path: str) -> dict[str, Any] | None:
        response = self.session.get(f"{self.url}{path}", timeout=self.timeout)
        if response.status_code == 404:
            return None
        self._check(response, "GET", path)
        data: dict[str, Any] = response.json()
        return data

    def _check(self, response: Any, method: str, path: str) -> None:
        if response.status_code >= 400:
            hint = " (is the Transactions extension enabled?)" if response.status_code in (404, 405) else ""
            raise CatalogError(
                f"{method} {self.url}{path} failed: HTTP {response.status_code}{hint}: {response.text[:300]}"
            )

    def _put_or_post(
        self, path: str, collection_path: str, obj: dict[str, Any], result: PublishResult
    ) -> None:
        current = self._get(path)
        body = _body(obj)
        if current is None:
            response = self.session.post(f"{self.url}{collection_path}", json=body, timeout=self.timeout)
            if response.status_code == 409:  # created meanwhile by someone else: compare again
                current = self._get(path)
            else:
                self._check(response, "POST", collection_path)
                result.created.append(obj["id"])
                return
        if current is not None and _content(current) == _content(body):
            result.unchanged.append(obj["id"])
            return
        response = self.session.put(f"{self.url}{path}", json=body, timeout=self.timeout)
        self._check(response, "PUT", path)
        result.updated.append(obj["id"])

    def publish(self, collection: dict[str, Any], items: Iterable[dict[str, Any]]) -> PublishResult:
        """Publish one collection and its items; returns what was created, updated, left alone."""
        result = PublishResult()
        cid = collection["id"]
        self._put_or_post(f"/collections/{cid}", "/collections", collection, result)
        for item in items:
            if item.get("collection") not in (None, cid):
                raise CatalogError(f"item {item['id']} belongs to {item.get('collection')}, not {cid}")
            item = {**item, "collection": cid}
            self._put_or_post(
                f"/collections/{cid}/items/{item['id']}", f"/collections/{cid}/items", item, result
            )
        return result
