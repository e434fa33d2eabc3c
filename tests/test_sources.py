"""Named sources, Planetary Computer signing and Earthdata credentials, applied to every href
before GDAL reads it - checked with a local stand-in for the SAS token endpoint and an HTTP
server that refuses unsigned / unauthenticated requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner
from rasterio.enums import Resampling

from fusion.blockio import GridWindow, read_asset
from fusion.errors import BlockReadError, LaunchError, UnknownNameError
from fusion.rasterio_io import write_cog
from fusion.sources import SOURCES, check_credentials, earthdata_gdal_options, prepare_href, resolve_source
from pipelines.cli import main
from tests.servers.http_range import range_server

PC_HREF = "http://pcstandin.blob.core.windows.net/landsat-c2/x_SR_B4.TIF"
ED_HREF = "http://data.lpdaac.earthdatacloud.nasa.gov/lp-prod-protected/x_SR_B4.TIF"
TRANSFORM = Affine(30, 0, 600000, 0, -30, 4200000)


@pytest.fixture
def token_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A local stand-in for https://planetarycomputer.microsoft.com/api/sas/v1/token."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            asked.append(self.path)
            body = json.dumps({"msft:expiry": "2099-01-01T00:00:00Z", "token": "st=2026&sp=rl&sig=STANDIN"})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("PC_SDK_SAS_URL", f"http://127.0.0.1:{httpd.server_address[1]}/api/sas/v1/token")
    import planetary_computer.sas as sas
    from planetary_computer.settings import Settings

    Settings.get.cache_clear()
    sas.TOKEN_CACHE.clear()
    yield asked
    httpd.shutdown()
    Settings.get.cache_clear()
    sas.TOKEN_CACHE.clear()


@pytest.fixture
def no_earthdata(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EARTHDATA_TOKEN", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


def _cog(root: Path, rel: str) -> np.ndarray:
    data = (np.arange(64 * 64, dtype=np.int16) % 1000).reshape(64, 64)
    write_cog(root / rel, data, transform=TRANSFORM, crs="EPSG:32614", nodata=None)
    return data


def _grid() -> GridWindow:
    return GridWindow("EPSG:32614", TRANSFORM, 64, 64)


def test_sources_are_named_and_any_url_is_a_source() -> None:
    assert set(SOURCES) == {"earth-search", "planetary-computer", "cmr-stac"}
    assert SOURCES["planetary-computer"].auth == "planetary-computer"
    assert "modis-09A1-061" in SOURCES["planetary-computer"].collections
    assert "MOD09GA.v061" in SOURCES["cmr-stac"].collections
    assert resolve_source("https://example.org/stac").url == "https://example.org/stac"
    with pytest.raises(UnknownNameError, match="earth-search"):
        resolve_source("earth-serch")
    result = CliRunner().invoke(main, ["search", "--source", "earth-serch"])
    assert result.exit_code == 2 and "unknown source 'earth-serch'" in result.output


def test_planetary_computer_hrefs_are_signed_through_the_token_endpoint(token_endpoint: list[str]) -> None:
    signed, options = prepare_href(PC_HREF)
    assert signed.startswith(PC_HREF + "?") and "sig=STANDIN" in signed and options == {}
    assert token_endpoint == ["/api/sas/v1/token/pcstandin/landsat-c2"]
    prepare_href(PC_HREF.replace("x_", "y_"))  # same container: the token is reused
    assert len(token_endpoint) == 1
    assert prepare_href("https://example.org/a.tif") == ("https://example.org/a.tif", {})


def test_a_block_read_signs_the_href_first(
    token_endpoint: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _cog(tmp_path, "landsat-c2/x_SR_B4.TIF")
    with range_server(tmp_path) as srv:
        srv.faults.require_query = "sig=STANDIN"  # like Azure: unsigned requests are refused
        monkeypatch.setenv("GDAL_HTTP_PROXY", srv.url.removeprefix("http://"))
        out, _ = read_asset(PC_HREF, _grid(), Resampling.nearest)
        assert np.array_equal(out, data)
        assert srv.faults.hosts["pcstandin.blob.core.windows.net"] >= 1
    assert token_endpoint


def test_earthdata_reads_carry_the_bearer_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _cog(tmp_path, "lp-prod-protected/x_SR_B4.TIF")
    monkeypatch.setenv("EARTHDATA_TOKEN", "TOKEN123")
    with range_server(tmp_path) as srv:
        srv.faults.require_header = ("Authorization", "Bearer TOKEN123")
        monkeypatch.setenv("GDAL_HTTP_PROXY", srv.url.removeprefix("http://"))
        out, _ = read_asset(ED_HREF, _grid(), Resampling.nearest)
        assert np.array_equal(out, data)
        monkeypatch.setenv("EARTHDATA_TOKEN", "WRONG")
        with pytest.raises(BlockReadError, match="HTTP 403"):
            read_asset(ED_HREF.replace("x_", "x2_"), _grid(), Resampling.nearest)


def test_earthdata_credentials_come_from_a_netrc_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EARTHDATA_TOKEN", raising=False)
    rc = tmp_path / "netrc"
    rc.write_text("machine urs.earthdata.nasa.gov login me password secret\n")
    rc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(rc))
    options = earthdata_gdal_options()
    assert options["GDAL_HTTP_NETRC"] == "YES" and options["GDAL_HTTP_NETRC_FILE"] == str(rc)


def test_missing_earthdata_credentials_fail_fast_naming_what_to_set(
    no_earthdata: None, tmp_path: Path
) -> None:
    with pytest.raises(LaunchError, match="EARTHDATA_TOKEN") as err:
        check_credentials([ED_HREF, "https://example.org/public.tif"])
    assert "machine urs.earthdata.nasa.gov" in str(err.value)
    check_credentials(["https://example.org/public.tif"])  # nothing needed, nothing asked
    # A run against CMR-STAC stops before any request.
    result = CliRunner().invoke(
        main,
        ["run", "--catalog", SOURCES["cmr-stac"].url, "--output", str(tmp_path / "out"),
         "--start", "2023-06-01", "--end", "2023-06-02", "--report-dir", str(tmp_path / "r")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "EARTHDATA_TOKEN" in result.output and "netrc" in result.output


def test_a_failed_signed_read_never_shows_the_signature(
    token_endpoint: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "landsat-c2").mkdir()
    # A name of its own: GDAL caches what it read of other tests' URLs.
    (tmp_path / "landsat-c2" / "broken_SR_B4.TIF").write_bytes(b"not a tiff at all" * 100)
    href = PC_HREF.replace("x_SR_B4", "broken_SR_B4")
    with range_server(tmp_path) as srv:
        monkeypatch.setenv("GDAL_HTTP_PROXY", srv.url.removeprefix("http://"))
        with pytest.raises(BlockReadError) as err:
            read_asset(href, _grid(), Resampling.nearest)
    assert err.value.asset == href
    assert "STANDIN" not in str(err.value) and "sig=" not in str(err.value)


# ------------------------------------------------------------------ requester-pays (Earth Search)

RP_HREF = "s3://usgs-landsat/collection02/level-2/x_SR_B4.TIF"


@pytest.fixture
def s3_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The range server as a path-style S3 endpoint: ``/usgs-landsat/...`` is the bucket's key."""
    with range_server(tmp_path) as srv:
        monkeypatch.setenv("AWS_S3_ENDPOINT", srv.url.removeprefix("http://"))
        monkeypatch.setenv("AWS_HTTPS", "NO")
        monkeypatch.setenv("AWS_VIRTUAL_HOSTING", "FALSE")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASTANDIN")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "standin-secret")
        monkeypatch.delenv("AWS_NO_SIGN_REQUEST", raising=False)
        yield srv


def test_requester_pays_reads_are_refused_until_the_user_accepts_the_cost(
    s3_endpoint: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _cog(tmp_path, "usgs-landsat/collection02/level-2/x_SR_B4.TIF")
    s3_endpoint.faults.require_header = ("x-amz-request-payer", "requester")  # as the bucket does
    monkeypatch.delenv("AWS_REQUEST_PAYER", raising=False)
    with pytest.raises(LaunchError, match="requester-pays") as err:
        check_credentials([RP_HREF])
    assert "AWS_REQUEST_PAYER=requester" in str(err.value) and "planetary-computer" in str(err.value)
    assert "USD" in str(err.value)  # the cost is named
    with pytest.raises(LaunchError, match="requester-pays"):  # a read is refused too, not attempted
        read_asset(RP_HREF, _grid(), Resampling.nearest)
    assert sum(s3_endpoint.requests.values()) == 0

    monkeypatch.setenv("AWS_REQUEST_PAYER", "requester")
    check_credentials([RP_HREF])
    out, _ = read_asset(RP_HREF, _grid(), Resampling.nearest)  # GDAL sends x-amz-request-payer
    assert np.array_equal(out, data)


def test_requester_pays_without_aws_credentials_names_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_REQUEST_PAYER", "requester")
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(LaunchError, match="AWS_ACCESS_KEY_ID"):
        check_credentials([RP_HREF])
    check_credentials(["s3://sentinel-cogs/sentinel-s2-l2a-cogs/x/B04.tif"])  # public bucket: nothing asked


def test_a_run_on_earth_search_is_refused_up_front_for_missing_modis_and_unpaid_landsat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REQUEST_PAYER", raising=False)
    base = ["run", "--catalog", "earth-search", "--output", str(tmp_path / "out"),
            "--start", "2023-06-01", "--end", "2023-06-02", "--tiles", "13N-0016-0187"]  # fmt: skip
    result = CliRunner().invoke(main, base)  # spatiotemporal: Earth Search has no MODIS
    assert result.exit_code == 2, result.output
    assert (
        "no collection 'modis-09A1-061'" in result.output and "--catalog planetary-computer" in result.output
    )
    # Landsat as the coarse role too: the collections exist, the Landsat reads would bill the user
    result = CliRunner().invoke(main, [*base, "--collections", "coarse=landsat-c2-l2"])
    assert result.exit_code == 2, result.output
    assert "requester-pays" in result.output and "AWS_REQUEST_PAYER=requester" in result.output
    assert not (tmp_path / "out").exists()
