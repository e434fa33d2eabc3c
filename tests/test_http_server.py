"""The test HTTP server itself behaves like a range-capable object store (checked with urllib and GDAL)."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import rasterio

from fusion.errors import CatalogError
from fusion.rasterio_io import write_cog
from fusion.remote import GDAL_CLOUD_OPTIONS, http_get, http_status
from tests.servers.http_range import range_server


def test_range_requests_and_injected_faults(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(bytes(range(100)))
    with range_server(tmp_path) as srv:
        url = f"{srv.url}/a.bin"
        req = urllib.request.Request(url, headers={"Range": "bytes=10-19"})
        with urllib.request.urlopen(req) as r:
            assert r.status == 206 and r.read() == bytes(range(10, 20))
            assert r.headers["Content-Range"] == "bytes 10-19/100"
        req = urllib.request.Request(url, headers={"Range": "bytes=-5"})
        with urllib.request.urlopen(req) as r:
            assert r.read() == bytes(range(95, 100))
        srv.faults.fail_first["/a.bin"] = (2, 503)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url)
        assert err.value.code == 503
        assert http_get(url, base_delay=0.01) == bytes(range(100))  # second 503, then success
        assert srv.requests["/a.bin"] == 5
        srv.faults.broken["/a.bin"] = 500
        with pytest.raises(CatalogError, match="gave up after 3 attempts"):
            http_get(url, attempts=3, base_delay=0.01)
        assert http_status(url) == 500
        assert http_status(f"{srv.url}/missing.bin") == 404
        with pytest.raises(CatalogError, match="HTTP 404"):
            http_get(f"{srv.url}/missing.bin")


def test_gdal_reads_a_cog_over_http_through_429s(tmp_path: Path) -> None:
    data = np.arange(256 * 256, dtype=np.int16).reshape(256, 256)
    from affine import Affine

    write_cog(tmp_path / "x.tif", data, transform=Affine(30, 0, 0, 0, -30, 0), crs="EPSG:32614", nodata=None)
    with range_server(tmp_path) as srv, rasterio.Env(**GDAL_CLOUD_OPTIONS):
        srv.faults.fail_first["*"] = (2, 429)
        with rasterio.open(f"{srv.url}/x.tif") as src:
            assert np.array_equal(src.read(1), data)
        assert srv.requests["/x.tif"] >= 3  # two refusals, then real reads


@pytest.mark.slow
def test_truncated_and_stalled_cogs_fail_the_read_naming_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from affine import Affine
    from rasterio.enums import Resampling

    from fusion.blockio import GridWindow, read_asset
    from fusion.errors import BlockReadError

    data = (np.arange(512 * 512) % 3000).astype(np.int16).reshape(512, 512)
    transform = Affine(30, 0, 600000, 0, -30, 4200000)
    write_cog(tmp_path / "cut.tif", data, transform=transform, crs="EPSG:32614", nodata=None)
    write_cog(tmp_path / "slow.tif", data, transform=transform, crs="EPSG:32614", nodata=None)
    grid = GridWindow("EPSG:32614", transform, 512, 512)
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", "1")
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "1")
    monkeypatch.setenv("GDAL_HTTP_RETRY_DELAY", "0.05")
    with range_server(tmp_path) as srv:
        srv.faults.truncate["/cut.tif"] = (tmp_path / "cut.tif").stat().st_size // 2
        with pytest.raises(BlockReadError) as cut:
            read_asset(f"{srv.url}/cut.tif", grid, Resampling.nearest)
        assert cut.value.asset == f"{srv.url}/cut.tif" and str(cut.value).startswith(f"{srv.url}/cut.tif: ")
        srv.faults.stall["/slow.tif"] = 2.5
        with pytest.raises(BlockReadError) as slow:
            read_asset(f"{srv.url}/slow.tif", grid, Resampling.nearest)
        assert slow.value.asset == f"{srv.url}/slow.tif"
        # JSON reads time out and retry too, then give up with the URL.
        (tmp_path / "x.json").write_text("{}")
        srv.faults.stall["/x.json"] = 1.0
        with pytest.raises(CatalogError, match="gave up after 2 attempts"):
            http_get(f"{srv.url}/x.json", attempts=2, base_delay=0.01, timeout=0.3)
