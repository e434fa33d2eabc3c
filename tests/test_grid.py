"""Grid arithmetic that must be exact: property tests (Hypothesis) and a few fixed cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.errors import ConfigError, GridError
from fusion.grid import (
    GridSpec,
    Window,
    block_mean,
    coarse_to_fine_window,
    crop_halo,
    fine_to_coarse_window,
    is_aligned,
    plan_blocks,
    upsample,
    utm_grid,
)

sizes = st.integers(min_value=1, max_value=300)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(h=sizes, w=sizes, block=st.integers(1, 128), halo=st.integers(0, 40), clip=st.booleans())
def test_blocks_cover_every_pixel_exactly_once(h: int, w: int, block: int, halo: int, clip: bool) -> None:
    count = np.zeros((h, w), np.int32)
    for b in plan_blocks(h, w, block, halo, clip=clip):
        count[b.core.slices] += 1
        assert b.core.height > 0 and b.core.width > 0
    assert (count == 1).all()


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(h=sizes, w=sizes, block=st.integers(1, 96), halo=st.integers(0, 32), clip=st.booleans())
def test_halo_crops_back_to_the_core(h: int, w: int, block: int, halo: int, clip: bool) -> None:
    rng = np.random.default_rng(h * 1000 + w)
    # An image larger than the tile by the halo, so unclipped read windows can be sliced.
    big = rng.random((h + 2 * halo, w + 2 * halo))
    tile = big[halo : halo + h, halo : halo + w]
    for b in plan_blocks(h, w, block, halo, clip=clip):
        read = b.read.translate(halo, halo)
        chunk = big[read.slices]
        assert np.array_equal(crop_halo(chunk, b), tile[b.core.slices])
        if not clip:
            assert b.read == b.core.expand(halo)
        else:
            assert b.read.row >= 0 and b.read.row_stop <= h


@settings(max_examples=200, deadline=None)
@given(
    r=st.integers(0, 500),
    c=st.integers(0, 500),
    hh=st.integers(1, 60),
    ww=st.integers(1, 60),
    factor=st.sampled_from([1, 2, 3, 4, 8, 16]),
)
def test_coarse_fine_windows_round_trip(r: int, c: int, hh: int, ww: int, factor: int) -> None:
    coarse = Window(r, c, hh, ww)
    fine = coarse_to_fine_window(coarse, factor)
    assert is_aligned(fine, factor)
    assert fine_to_coarse_window(fine, factor) == coarse
    # Any fine window maps to the smallest covering coarse window.
    fw = Window(r, c, hh, ww)
    cw = fine_to_coarse_window(fw, factor)
    back = coarse_to_fine_window(cw, factor)
    assert back.row <= fw.row and back.col <= fw.col
    assert back.row_stop >= fw.row_stop and back.col_stop >= fw.col_stop
    assert back.row_stop - fw.row_stop < factor and fw.row - back.row < factor


@settings(max_examples=100, deadline=None)
@given(
    factor=st.sampled_from([2, 3, 4, 16]),
    n=st.integers(1, 6),
    col=st.integers(-5, 40),
    row=st.integers(0, 400),
)
def test_coarse_grid_is_aligned_with_fine_grid(factor: int, n: int, col: int, row: int) -> None:
    fine = utm_grid(32614, 30.0, tile_size=factor * n * 4)
    coarse = fine.coarsen(factor)
    ft, ct = fine.tile(col, row), coarse.tile(col, row)
    assert ft.bounds == pytest.approx(ct.bounds)
    # Every coarse pixel edge is a fine pixel edge: same origin, integer pixel ratio.
    assert coarse.resolution == fine.resolution * factor
    x_edges_coarse = ct.transform.c + np.arange(coarse.tile_size + 1) * coarse.resolution
    x_edges_fine = ft.transform.c + np.arange(fine.tile_size + 1) * fine.resolution
    assert np.allclose(x_edges_coarse, x_edges_fine[::factor])
    # Block mean then upsampling keeps the per-coarse-pixel mean (alignment round trip).
    rng = np.random.default_rng(factor)
    img = rng.random((factor * n, factor * n))
    assert np.allclose(block_mean(upsample(block_mean(img, factor), factor), factor), block_mean(img, factor))


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 200),
    w=st.integers(1, 200),
    factor=st.sampled_from([2, 4, 16]),
    k=st.integers(1, 8),
    halo_k=st.integers(0, 3),
    clip=st.booleans(),
)
def test_aligned_blocks_start_on_coarse_pixels(
    h: int, w: int, factor: int, k: int, halo_k: int, clip: bool
) -> None:
    h, w = h * factor, w * factor
    for b in plan_blocks(h, w, k * factor, halo_k * factor, align=factor, clip=clip):
        assert is_aligned(b.read, factor) and is_aligned(b.core, factor)


def test_block_planning_rejects_misaligned_sizes() -> None:
    with pytest.raises(GridError, match="multiples of the coarse factor 16"):
        plan_blocks(1024, 1024, 250, 64, align=16)
    with pytest.raises(GridError, match="halo"):
        plan_blocks(10, 10, 5, -1)


def test_utm_grid_tiles() -> None:
    g = utm_grid(32614, 30.0, 1024)
    assert g.name == "14N" and g.tile_extent == 30720.0
    tiles = g.tiles_for_bounds((614400.0, 4193920.0, 645120.0, 4224640.0))
    assert [t.id for t in tiles] == ["14N-0020-0188"]
    t = tiles[0]
    assert t.bounds == (614400.0, 4193920.0, 645120.0, 4224640.0)
    assert g.tile_by_id("14N-0020-0188") == t
    assert len(g.tiles_for_bounds((614000.0, 4193000.0, 615000.0, 4194000.0))) == 4
    south = utm_grid(32755, 30.0, 3660)
    assert south.name == "55S" and south.tile(5, 300).bounds[3] == 10_000_000.0 - 300 * 109_800.0


def test_grid_errors_name_the_value() -> None:
    with pytest.raises(ConfigError, match="EPSG:4326"):
        utm_grid(4326)
    with pytest.raises(ConfigError, match="not understood"):
        GridSpec("EPSG:999999", 30.0, 0.0, 0.0, 256)
    with pytest.raises(GridError, match="not a multiple"):
        utm_grid(32614, 30.0, 1000).coarsen(16)
    with pytest.raises(ConfigError, match="resolution"):
        GridSpec("EPSG:32614", -30.0, 0.0, 0.0, 256)


def test_block_mean_ignores_nan() -> None:
    a = np.array([[1.0, np.nan], [3.0, np.nan]])
    assert block_mean(a, 2)[0, 0] == pytest.approx(2.0)
    assert np.isnan(block_mean(np.full((2, 2), np.nan), 2)[0, 0])
