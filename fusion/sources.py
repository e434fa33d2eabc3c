"""Where scenes come from: named STAC sources, and what an asset href needs before it is read.

``SOURCES`` names the public catalogs eo-fusion knows (any other STAC API URL works too):

* ``earth-search`` - Element 84's Earth Search (AWS): Landsat C2 L2, Sentinel-2 L2A, Sentinel-2
  collection 1 (no MODIS, so it serves the ``harmonize`` task but not ``spatiotemporal``).
  Sentinel-2 assets are public; the Landsat assets are in USGS's **requester-pays** bucket
  ``s3://usgs-landsat``: reading them bills the reader's AWS account, so they are read only
  when ``AWS_REQUEST_PAYER=requester`` (GDAL's own option) is set with AWS credentials, and
  refused up front otherwise (:func:`requester_pays_gdal_options`).
* ``planetary-computer`` - Microsoft Planetary Computer: assets live in Azure Blob Storage and
  must be signed with a SAS token (the ``planetary-computer`` package, which asks the token
  endpoint; ``PC_SDK_SAS_URL`` and ``PC_SDK_SUBSCRIPTION_KEY`` configure it).
* ``cmr-stac`` - NASA CMR-STAC, LP DAAC cloud (MODIS MOD09GA, HLS): assets need Earthdata Login,
  given as ``EARTHDATA_TOKEN`` (a bearer token) or a ``machine urs.earthdata.nasa.gov`` entry in
  the netrc file (``NETRC`` or ``~/.netrc``).

:func:`prepare_href` is applied to every asset href right before GDAL opens it, so a signature
is always fresh; :func:`check_credentials` runs before a run starts, so a missing credential
fails in the first second and names what to set.
"""

from __future__ import annotations

import netrc
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from fusion.errors import LaunchError, UnknownNameError


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    collections: tuple[str, ...]
    auth: str | None  #: None, "planetary-computer" or "earthdata"
    description: str


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "earth-search",
            "https://earth-search.aws.element84.com/v1",
            ("landsat-c2-l2", "sentinel-2-l2a", "sentinel-2-c1-l2a"),
            None,
            "Element 84 Earth Search on AWS (public assets)",
        ),
        Source(
            "planetary-computer",
            "https://planetarycomputer.microsoft.com/api/stac/v1",
            (
                "landsat-c2-l2",
                "sentinel-2-l2a",
                "modis-09A1-061",
                "modis-09Q1-061",
                "modis-43A4-061",
                "hls2-l30",
                "hls2-s30",
            ),
            "planetary-computer",
            "Microsoft Planetary Computer (assets signed with SAS tokens)",
        ),
        Source(
            "cmr-stac",
            "https://cmr.earthdata.nasa.gov/stac/LPCLOUD",
            ("MOD09GA.v061", "HLSL30.v2.0", "HLSS30.v2.0"),
            "earthdata",
            "NASA CMR-STAC, LP DAAC cloud (Earthdata Login)",
        ),
    )
}


def resolve_source(name_or_url: str) -> Source:
    """A named source, or an ad-hoc one for any STAC API URL."""
    if name_or_url in SOURCES:
        return SOURCES[name_or_url]
    if name_or_url.startswith(("http://", "https://")):
        return Source(name_or_url, name_or_url.rstrip("/"), (), None, "STAC API")
    raise UnknownNameError(
        f"unknown source {name_or_url!r}: use one of {sorted(SOURCES)} or a STAC API URL (https://...)"
    )


# ------------------------------------------------------------------------------ credentials

#: Azure Blob Storage hosts of Planetary Computer assets.
PC_BLOB_HOST = re.compile(r"^[a-z0-9]+\.blob\.core\.windows\.net$")
#: Hosts that serve LP DAAC / LAADS data behind Earthdata Login.
EARTHDATA_HOSTS = frozenset(
    {
        "data.lpdaac.earthdatacloud.nasa.gov",
        "lpdaac.earthdata.nasa.gov",
        "data.laadsdaac.earthdatacloud.nasa.gov",
        "e4ftl01.cr.usgs.gov",
        "ladsweb.modaps.eosdis.nasa.gov",
    }
)
EARTHDATA_LOGIN = "urs.earthdata.nasa.gov"


#: S3 buckets whose objects bill the reader (USGS Landsat Collection 2, as Earth Search links it).
REQUESTER_PAYS_BUCKETS = frozenset({"usgs-landsat", "usgs-landsat-ard"})


def needs_requester_pays(href: str) -> bool:
    """Whether ``href`` is an object of a requester-pays bucket (``s3://usgs-landsat/...`` or
    its virtual-hosted ``https://usgs-landsat.s3...amazonaws.com/...`` form)."""
    parsed = urlparse(href)
    host = parsed.hostname or ""
    if parsed.scheme == "s3":
        return host in REQUESTER_PAYS_BUCKETS
    return host.endswith(".amazonaws.com") and host.split(".", 1)[0] in REQUESTER_PAYS_BUCKETS


def _has_aws_credentials() -> bool:
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE") or os.environ.get("AWS_ROLE_ARN"):
        return True
    home = Path.home() / ".aws"
    files = [os.environ.get("AWS_SHARED_CREDENTIALS_FILE"), os.environ.get("AWS_CONFIG_FILE")]
    return (
        any(Path(f).is_file() for f in files if f)
        or (home / "credentials").is_file()
        or (home / "config").is_file()
    )


REQUESTER_PAYS_NOTE = (
    "USGS's Landsat bucket s3://usgs-landsat is requester-pays: every read is billed to your AWS "
    "account (S3 GET requests plus data transfer out of us-west-2, AWS's list price for transfer to "
    "the internet being about USD 0.09 per GB; a 1024 x 1024 px tile reads on the order of 10 MB per "
    "Landsat scene)"
)


def requester_pays_gdal_options() -> dict[str, str]:
    """GDAL options that read a requester-pays object, or a LaunchError when the user has not
    agreed to pay (``AWS_REQUEST_PAYER=requester``) or has no AWS credentials to sign with."""
    if os.environ.get("AWS_REQUEST_PAYER", "").lower() != "requester":
        raise LaunchError(
            f"{REQUESTER_PAYS_NOTE}. To accept the cost set AWS_REQUEST_PAYER=requester and AWS "
            "credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE); or read the "
            "same Landsat scenes free from --catalog planetary-computer"
        )
    if not _has_aws_credentials():
        raise LaunchError(
            "AWS_REQUEST_PAYER=requester is set, but there are no AWS credentials to sign the "
            "requests with: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (a "
            "requester-pays bucket refuses anonymous reads)"
        )
    return {"AWS_REQUEST_PAYER": "requester"}


def needs_signing(href: str) -> bool:
    host = urlparse(href).hostname or ""
    return bool(PC_BLOB_HOST.match(host))


def needs_earthdata(href: str) -> bool:
    return (urlparse(href).hostname or "") in EARTHDATA_HOSTS


def _netrc_path() -> Path:
    return Path(os.environ.get("NETRC") or Path.home() / ".netrc")


def earthdata_gdal_options() -> dict[str, str]:
    """GDAL options that authenticate Earthdata reads, or a LaunchError naming what to set."""
    token = os.environ.get("EARTHDATA_TOKEN")
    if token:
        return {"GDAL_HTTP_HEADERS": f"Authorization: Bearer {token}"}
    path = _netrc_path()
    if path.is_file():
        try:
            entry = netrc.netrc(str(path)).authenticators(EARTHDATA_LOGIN)
        except (netrc.NetrcParseError, OSError) as exc:
            raise LaunchError(f"the netrc file {path} cannot be read: {exc}") from exc
        if entry is not None:
            # GDAL follows the redirect to Earthdata Login and answers it from the netrc file.
            return {
                "GDAL_HTTP_NETRC": "YES",
                "GDAL_HTTP_NETRC_FILE": str(path),
                "GDAL_HTTP_COOKIEFILE": str(Path.home() / ".eo-fusion-earthdata-cookies"),
                "GDAL_HTTP_COOKIEJAR": str(Path.home() / ".eo-fusion-earthdata-cookies"),
            }
    raise LaunchError(
        "Earthdata Login credentials are missing: set EARTHDATA_TOKEN to an Earthdata bearer token "
        f"(https://urs.earthdata.nasa.gov/documentation/for_users/user_token), or add "
        f"'machine {EARTHDATA_LOGIN} login USER password PASS' to {path} (or point NETRC at such a file)"
    )


def sign_planetary_computer(href: str) -> str:
    """``href`` with a Planetary Computer SAS token (cached per container until it expires)."""
    import planetary_computer
    from planetary_computer.settings import Settings

    # Settings are read once per process by the SDK; read them again if the environment moved.
    if Settings.get().sas_url != (os.environ.get("PC_SDK_SAS_URL") or Settings.get().sas_url):
        Settings.get.cache_clear()
    try:
        signed: str = planetary_computer.sign_url(href)
    except Exception as exc:
        raise LaunchError(
            f"cannot sign {href} for Planetary Computer: {exc}. Check network access to the SAS "
            "token endpoint (PC_SDK_SAS_URL) and, if you have one, PC_SDK_SUBSCRIPTION_KEY"
        ) from exc
    return signed


def prepare_href(href: str) -> tuple[str, dict[str, str]]:
    """The href GDAL should open and the GDAL options it needs (signature, credentials)."""
    if needs_signing(href) and "sig=" not in href:
        return sign_planetary_computer(href), {}
    if needs_earthdata(href):
        return href, earthdata_gdal_options()
    if needs_requester_pays(href):
        return href, requester_pays_gdal_options()
    return href, {}


def check_credentials(hrefs: list[str]) -> None:
    """Fail fast, before any work, when an href will need a credential that is not there."""
    if any(needs_earthdata(h) for h in hrefs):
        earthdata_gdal_options()
    if any(needs_requester_pays(h) for h in hrefs):
        requester_pays_gdal_options()
    signed = [h for h in hrefs if needs_signing(h)]
    if signed:
        sign_planetary_computer(signed[0])


def check_source_collections(source: Source, collections: dict[str, str], task: str) -> None:
    """Refuse a request for collections a named source does not hold (Earth Search has no
    MODIS, so the spatiotemporal task cannot run on it), naming the sources that do."""
    if not source.collections:
        return
    missing = {role: c for role, c in collections.items() if c not in source.collections}
    if not missing:
        return
    having = [s.name for s in SOURCES.values() if all(c in s.collections for c in collections.values())]
    role, collection = sorted(missing.items())[0]
    fix = f"use --catalog {having[0]}" if having else "use a catalog that holds them"
    raise UnknownNameError(
        f"source {source.name!r} has no collection {collection!r} (role {role!r} of task {task!r}); "
        f"it holds {list(source.collections)}: {fix}, or set --collections {role}=ID to one it holds"
    )


def source_for_catalog(catalog: str) -> Source | None:
    """The named source whose URL ``catalog`` is, if any."""
    for source in SOURCES.values():
        if catalog.rstrip("/") == source.url:
            return source
    return None
