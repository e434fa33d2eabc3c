"""STAC APIs: item search through pystac-client, and publishing through the Transactions extension
(and stac-fastapi's Bulk Transactions extension where the API has it).

Search sends what the API can filter (collections, intersects, datetime, and the cloud limit
through the Query extension when the API conforms to it) and pages through the results with a
maximum; whatever the API cannot filter is filtered here with the same rule as the static
catalog search. HTTP 429/5xx and time-outs are retried with backoff (urllib3 ``Retry``).

Publishing is idempotent: an object is created when absent, replaced when different, and left
alone when the API already holds the same content, so publishing twice changes nothing. Where
the API offers ``POST /collections/{id}/bulk_items`` (its OpenAPI document lists the route, or
its conformance classes name bulk transactions), the items whose content differs are upserted
there in batches, after one search per batch fetched the items the API already holds;
otherwise each item is read and written on its own.

Credentials: a bearer token in ``EO_FUSION_STAC_API_TOKEN`` is sent as ``Authorization: Bearer``
with every request to a STAC API (search and publishing), never to the built-in public sources
(:data:`fusion.sources.SOURCES`), and never logged. HTTP 401/403 is an
:class:`~fusion.errors.AuthenticationError` that names the URL and the variable.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlparse

from shapely.geometry import mapping

from fusion.catalog import DroppedItem, Scene, SearchRequest, scene_if_matching
from fusion.errors import AuthenticationError, CatalogError, FusionError
from fusion.remote import RETRY_STATUS

log = logging.getLogger("eo-fusion")

#: The environment variable holding the bearer token for STAC APIs.
TOKEN_ENV = "EO_FUSION_STAC_API_TOKEN"  # noqa: S105 (a variable name, not a secret)


def _public_hosts() -> frozenset[str]:
    from fusion.sources import SOURCES

    return frozenset(urlparse(s.url).hostname or "" for s in SOURCES.values())


def auth_headers(url: str) -> dict[str, str]:
    """``Authorization: Bearer $EO_FUSION_STAC_API_TOKEN`` for the STAC API at ``url``: empty
    when the variable is unset or empty, and for the built-in public sources (earth-search,
    planetary-computer, cmr-stac), which must never see a private API's token."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token or (urlparse(url).hostname or "") in _public_hosts():
        return {}
    return {"Authorization": f"Bearer {token}"}


def auth_error(url: str, status: int) -> AuthenticationError:
    """The error for HTTP 401/403 from ``url``: says whether a token was sent and what to do."""
    if not auth_headers(url):
        hint = f"this API needs a bearer token: set {TOKEN_ENV}"
    elif status == 401:
        hint = f"the API refused the bearer token in {TOKEN_ENV}: check it (expired? another API's?)"
    else:
        hint = f"the bearer token in {TOKEN_ENV} does not grant this: check its permissions"
    reason = "Unauthorized" if status == 401 else "Forbidden"
    return AuthenticationError(f"{url}: HTTP {status} {reason}: {hint}")


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlparse(a), urlparse(b)
    return (pa.scheme, pa.netloc) == (pb.scheme, pb.netloc)


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


def _api_error(url: str, exc: Exception) -> AuthenticationError | None:
    """The authentication error for a pystac-client error that is an HTTP 401/403."""
    status = getattr(exc, "status_code", None)
    return auth_error(url, status) if status in (401, 403) else None


def open_api(url: str, headers: Mapping[str, str] | None = None) -> Any:
    """A pystac-client Client for ``url`` with retries and time-outs, sending the bearer token
    of ``EO_FUSION_STAC_API_TOKEN`` (:func:`auth_headers`) with every request."""
    from pystac_client import Client
    from pystac_client.stac_api_io import StacApiIO

    try:
        io = StacApiIO(headers={**auth_headers(url), **(headers or {})}, max_retries=_retry(), timeout=60)
        return Client.open(url, stac_io=io)
    except Exception as exc:
        raise (_api_error(url, exc) or CatalogError(f"cannot open the STAC API at {url}: {exc}")) from exc


def landing_page(url: str, timeout: float = 30.0) -> dict[str, Any] | None:
    """The JSON landing page at ``url`` (sent the bearer token, 429/5xx retried); None when
    nothing answers or the answer is not a JSON object. HTTP 401/403 raise
    :class:`AuthenticationError` (a protected API must not pass for a static catalog)."""
    import requests

    root = url.rstrip("/") + "/"
    try:
        response = _session(auth_headers(url)).get(root, timeout=timeout)
    except requests.RequestException:
        return None
    if response.status_code in (401, 403):
        raise auth_error(root, response.status_code)
    if response.status_code != 200:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@dataclass
class ApiSearch:
    """What a search returned: scenes, the items that could not be used (with the reason),
    and the ids of items the API returned that do not satisfy the request."""

    scenes: list[Scene]
    #: items that cannot be used (no or a bad datetime, not a STAC Item, unknown collection, ...)
    dropped: list[DroppedItem] = field(default_factory=list)
    filtered_by_api: tuple[str, ...] = ()
    #: ids of items the API returned although they do not match (what it could not filter)
    filtered_here: list[str] = field(default_factory=list)
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
        raise (_api_error(url, exc) or CatalogError(f"search at {url} failed: {exc}")) from exc
    scenes: list[Scene] = []
    dropped: list[DroppedItem] = []
    filtered: list[str] = []
    for data in items:
        item_id = str(data.get("id") or "?") if isinstance(data, dict) else "?"
        # One bad item (a null or unparseable datetime, ...) is dropped; the search goes on.
        try:
            scene = scene_if_matching(data, req)
        except FusionError as exc:
            dropped.append(DroppedItem(item_id, str(exc), _self_href(data)))
            continue
        if scene is None:  # what the API could not (or did not) filter
            filtered.append(item_id)
        else:
            scenes.append(scene)
    scenes.sort(key=lambda s: (s.datetime, s.collection, s.id))
    truncated = max_items is not None and len(items) >= max_items
    if truncated:
        log.warning("search at %s stopped at %d items; more may match", url, max_items)
    return ApiSearch(scenes, dropped, tuple(by_api), filtered, truncated)


def _self_href(data: Any) -> str | None:
    """The ``self`` link of an item as JSON, if it has one."""
    links = data.get("links") if isinstance(data, dict) else None
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("rel") == "self" and isinstance(link.get("href"), str):
            return str(link["href"])
    return None


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


#: A conformance class that names bulk transactions (stac-fastapi declares none by default).
BULK_CONFORMANCE = re.compile(r"bulk[-_]?transaction", re.IGNORECASE)
#: The Bulk Transactions route in an OpenAPI document's ``paths``.
BULK_PATH = re.compile(r"/collections/\{[^}/]+\}/bulk_items$")


class StacApiPublisher:
    """Create or update collections and items through the Transactions extension, items in
    batches through the Bulk Transactions extension where the API has it.

    ``bulk``: None detects it (:meth:`supports_bulk`), False never uses it, True always does.
    The bearer token of ``EO_FUSION_STAC_API_TOKEN`` goes with every request (``headers``
    override it)."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        *,
        batch_size: int = 100,
        bulk: bool | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.url = url.rstrip("/")
        self.session = _session({**auth_headers(self.url), **(headers or {})})
        self.timeout = timeout
        self.batch_size = batch_size
        self._bulk = bulk

    def _request(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        """One request (``path_or_url``: a path under the API, or an absolute URL of the API's
        own origin); HTTP 401/403 raise :class:`AuthenticationError`."""
        import requests

        url = path_or_url if "://" in path_or_url else f"{self.url}{path_or_url}"
        if not _same_origin(url, self.url):  # the token goes to the API only
            raise CatalogError(f"{self.url} links to {url}, outside the API: not following it")
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise CatalogError(f"{method} {url} failed: {exc}") from exc
        if response.status_code in (401, 403):
            raise auth_error(url, response.status_code)
        return response

    def _get(self, path: str) -> dict[str, Any] | None:
        response = self._request("GET", path)
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
            response = self._request("POST", collection_path, json=body)
            if response.status_code == 409:  # created meanwhile by someone else: compare again
                current = self._get(path)
            else:
                self._check(response, "POST", collection_path)
                result.created.append(obj["id"])
                return
        if current is not None and _content(current) == _content(body):
            result.unchanged.append(obj["id"])
            return
        response = self._request("PUT", path, json=body)
        self._check(response, "PUT", path)
        result.updated.append(obj["id"])

    # ----------------------------------------------------------------------- bulk transactions

    def supports_bulk(self) -> bool:
        """Whether the API has item search and ``POST /collections/{id}/bulk_items``: a
        conformance class naming bulk transactions, or the route in its OpenAPI document (the
        landing page's ``service-desc`` link). Asked once per publisher."""
        if self._bulk is None:
            self._bulk = self._detect_bulk()
            log.debug("STAC API %s: bulk transactions %s", self.url, "found" if self._bulk else "not found")
        return self._bulk

    def _detect_bulk(self) -> bool:
        landing = self._get("/")
        if landing is None:
            return False
        conforms = [str(c) for c in landing.get("conformsTo", [])]
        if not any("item-search" in c for c in conforms):  # existing items are read by search
            return False
        if any(BULK_CONFORMANCE.search(c) for c in conforms):
            return True
        desc = next(
            (lk.get("href") for lk in landing.get("links", []) if lk.get("rel") == "service-desc"), None
        )
        if not desc:
            return False
        desc_url = urljoin(f"{self.url}/", str(desc))
        if not _same_origin(desc_url, self.url):
            return False
        accept = "application/vnd.oai.openapi+json;version=3.0, application/json;q=0.9"
        response = self._request("GET", desc_url, headers={"Accept": accept})
        if response.status_code >= 400:
            return False
        try:
            paths = response.json().get("paths", {})
        except (ValueError, AttributeError):
            return False
        return any(BULK_PATH.search(str(p)) for p in paths)

    def _existing_items(self, cid: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The items of collection ``cid`` with these ids the API holds, by id (one search,
        more pages only when the API pages below ``len(ids)``)."""
        found: dict[str, dict[str, Any]] = {}
        method, url = "POST", f"{self.url}/search"
        body: dict[str, Any] | None = {"collections": [cid], "ids": ids, "limit": len(ids)}
        for _ in range(len(ids) + 1):  # a page holds at least one item
            response = self._request(method, url, json=body)
            self._check(response, method, url.removeprefix(self.url))
            page = response.json()
            features = page.get("features", [])
            for feature in features:
                if feature.get("collection") == cid:
                    found[feature["id"]] = feature
            nxt = next((lk for lk in page.get("links", []) if lk.get("rel") == "next"), None)
            if nxt is None or not features or len(found) >= len(ids):
                break
            method, url = str(nxt.get("method", "GET")).upper(), str(nxt["href"])
            if method == "POST":
                extra = nxt.get("body") or {}
                body = {**(body or {}), **extra} if nxt.get("merge") else (extra or body)
            else:
                body = None
        return found

    def _bulk_upsert(self, cid: str, items: dict[str, dict[str, Any]]) -> bool:
        """Upsert ``items`` (by id) in one request; False when the API has no such route."""
        path = f"/collections/{cid}/bulk_items"
        response = self._request("POST", path, json={"items": items, "method": "upsert"})
        if response.status_code in (404, 405):
            return False
        self._check(response, "POST", path)
        try:
            summary = response.json()
        except ValueError:
            summary = {}
        errors = (summary.get("errors") or []) if isinstance(summary, dict) else []
        if errors:
            listed = "; ".join(f"{e.get('id', '?')}: {e.get('msg', e)}" for e in errors[:5])
            raise CatalogError(
                f"POST {self.url}{path}: {len(errors)} of {len(items)} item(s) refused: {listed}"
            )
        return True

    def _publish_items_bulk(self, cid: str, items: list[dict[str, Any]], result: PublishResult) -> None:
        unique = list({item["id"]: item for item in items}.values())  # the last one of an id wins
        for start in range(0, len(unique), self.batch_size):
            batch = unique[start : start + self.batch_size]
            current = self._existing_items(cid, [item["id"] for item in batch])
            send: dict[str, dict[str, Any]] = {}
            for item in batch:
                body = _body(item)
                old = current.get(item["id"])
                if old is not None and _content(old) == _content(body):
                    result.unchanged.append(item["id"])
                else:
                    send[item["id"]] = body
            if not send:
                continue
            if not self._bulk_upsert(cid, send):  # the route went away: one item at a time
                log.warning("STAC API %s: no bulk_items route after all; publishing item by item", self.url)
                self._bulk = False
                for item in [i for i in batch if i["id"] in send]:
                    self._publish_item(cid, item, result)
                for item in unique[start + self.batch_size :]:
                    self._publish_item(cid, item, result)
                return
            for item_id in send:
                (result.updated if item_id in current else result.created).append(item_id)

    # ----------------------------------------------------------------------------- publishing

    def _publish_item(self, cid: str, item: dict[str, Any], result: PublishResult) -> None:
        self._put_or_post(f"/collections/{cid}/items/{item['id']}", f"/collections/{cid}/items", item, result)

    def publish(self, collection: dict[str, Any], items: Iterable[dict[str, Any]]) -> PublishResult:
        """Publish one collection and its items; returns what was created, updated, left alone."""
        result = PublishResult()
        cid = collection["id"]
        checked = []
        for item in items:  # all checked before anything is written
            if item.get("collection") not in (None, cid):
                raise CatalogError(f"item {item['id']} belongs to {item.get('collection')}, not {cid}")
            checked.append({**item, "collection": cid})
        self._put_or_post(f"/collections/{cid}", "/collections", collection, result)
        if checked and self.supports_bulk():
            self._publish_items_bulk(cid, checked, result)
        else:
            for item in checked:
                self._publish_item(cid, item, result)
        return result
