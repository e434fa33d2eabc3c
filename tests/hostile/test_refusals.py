"""Hostile input, part 1: every request mistake found by the issue-26 audit is refused before
the pipeline is built - exit status 2, one ``error:`` line that names the bad value and the fix,
no traceback, nothing written to the output or the input catalog.

One table, one case per line: (case id, how to build the command line, a text the error must
hold). Cases run in-process through click's CliRunner on a copy of the pipeline tests' small
simulated catalog, so the whole table takes seconds."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from fusion.models import PACKAGES_DIR
from fusion.models.package import METADATA_FILE, write_manifest
from pipelines.cli import main
from tests.pipeline_fixtures import PIPE_TILE


@dataclass
class Env:
    """What a case may use: a private copy of the catalog, a scratch folder, an output path."""

    catalog: Path
    tmp: Path

    @property
    def output(self) -> Path:
        return self.tmp / "products"

    def request_file(self, **fields: object) -> Path:
        """A YAML request with the default fields, ``fields`` added (raw YAML values)."""
        body = {
            "catalog": str(self.catalog),
            "output": str(self.output),
            "start": "2023-06-01",
            "end": "2023-06-30",
            "tiles": f"[{PIPE_TILE}]",
            "tile_size": "256",
            "model": "naive",
        }
        body.update({k: str(v) for k, v in fields.items()})
        path = self.tmp / "request.yaml"
        path.write_text("".join(f"{k}: {v}\n" for k, v in body.items() if v != "<drop>"))
        return path

    def package(self, edit: Callable[[Path], None], manifest: bool = True) -> Path:
        """A copy of the naive package changed by ``edit``; its manifest rewritten to agree
        (``manifest=True``), so the check under test is not the checksum."""
        pkg = self.tmp / "pkg"
        shutil.copytree(PACKAGES_DIR / "naive", pkg)
        edit(pkg)
        if manifest:
            write_manifest(pkg)
        return pkg

    def aoi(self, text: str) -> Path:
        path = self.tmp / "aoi.geojson"
        path.write_text(text)
        return path


def _args(env: Env, *extra: str, output: str | None = None) -> list[str]:
    out = output if output is not None else str(env.output)
    return ["run", "--catalog", str(env.catalog), "--output", out,
            "--start", "2023-06-01", "--end", "2023-06-30", "--tiles", PIPE_TILE, "--tile-size", "256",
            "--model", "naive", "--report-dir", str(env.tmp / "report"), "-q", *extra]  # fmt: skip


def _request(env: Env, **fields: object) -> list[str]:
    return [
        "run",
        "--request",
        str(env.request_file(**fields)),
        "--report-dir",
        str(env.tmp / "report"),
        "-q",
    ]


def _meta(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(pkg: Path) -> None:
        meta = json.loads((pkg / METADATA_FILE).read_text())
        edit(meta)
        (pkg / METADATA_FILE).write_text(json.dumps(meta))

    return apply


def _catalog_root(text: str) -> Callable[[Env], list[str]]:
    def case(env: Env) -> list[str]:
        (env.catalog / "catalog.json").write_text(text)
        return _args(env)

    return case


def _first_item(env: Env) -> dict:
    return json.loads(next(env.catalog.rglob("*.json")).read_text())


def _with_model(env: Env, pkg: Path) -> list[str]:
    args = _args(env)
    args[args.index("naive")] = str(pkg)
    return args


def _pkg_case(edit: Callable[[Path], None], manifest: bool = True) -> Callable[[Env], list[str]]:
    return lambda env: _with_model(env, env.package(edit, manifest))


def _truncate(rel: str, keep: int) -> Callable[[Path], None]:
    def edit(pkg: Path) -> None:
        path = pkg / rel
        path.write_bytes(path.read_bytes()[:keep])

    return edit


def _random_variables(pkg: Path) -> None:
    for data in (pkg / "saved_model" / "variables").glob("variables.data-*"):
        data.write_bytes(bytes(range(256)) * 4)


def _item_as_root(env: Env) -> list[str]:
    item = next(p for p in env.catalog.rglob("*.json") if json.loads(p.read_text()).get("type") == "Feature")
    shutil.copy(item, env.catalog / "catalog.json")
    return _args(env)


def _no_proj(env: Env) -> list[str]:
    """Every item without its proj:* fields: the output CRS cannot be chosen."""
    for path in env.catalog.rglob("*.json"):
        data = json.loads(path.read_text())
        if data.get("type") == "Feature":
            data["properties"] = {k: v for k, v in data["properties"].items() if not k.startswith("proj:")}
            path.write_text(json.dumps(data))
    args = _args(env)
    i = args.index("--tiles")
    del args[i : i + 2]
    return args


BOWTIE = json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]})

#: (case id, command line for the case, a text the error line must hold)
CASES: list[tuple[str, Callable[[Env], list[str]], str]] = [
    # 1. what used to be found only inside the running pipeline
    (
        "catalog-missing",
        lambda env: [*_args(env)[:2], str(env.tmp / "nowhere"), *_args(env)[3:]],
        "is neither a named source",
    ),
    ("catalog-root-not-json", _catalog_root("{ not json"), "not JSON"),
    ("catalog-root-json-array", _catalog_root("[1, 2]"), "JSON list"),
    ("catalog-root-is-an-item", _item_as_root, "is a STAC Item"),
    ("request-catalog-null", lambda env: _request(env, catalog="null"), "needs 'catalog'"),
    ("tile-id-malformed", lambda env: _args(env, "--tiles", "14N-XX-0376"), "14N-XX-0376"),
    ("tile-zone-does-not-exist", lambda env: _args(env, "--tiles", "99Q-0040-0376"), "99Q-0040-0376"),
    ("tile-of-another-zone", lambda env: _args(env, "--tiles", "15N-0080-0752", "--epsg", "32614"), "15N"),
    ("epsg-not-utm", lambda env: _args(env, "--epsg", "4326"), "4326"),
    ("no-item-states-proj", _no_proj, "no fine scene states proj:epsg; set `epsg`"),
    (
        "model-input-renamed",
        _pkg_case(_meta(lambda m: m["inputs"][1].update(name="fine_reference"))),
        "fine_reference",
    ),
    ("model-wrong-channel-count", _pkg_case(_meta(lambda m: m.update(bands=["red"]))), "channels"),
    ("model-output-missing", _pkg_case(_meta(lambda m: m.update(output="nothing"))), "nothing"),
    ("model-bands-empty", _pkg_case(_meta(lambda m: m.update(bands=[]))), "bands"),
    (
        "model-saved-model-pb-missing",
        _pkg_case(lambda p: (p / "saved_model" / "saved_model.pb").unlink()),
        "saved_model.pb",
    ),
    ("model-halo-negative", _pkg_case(_meta(lambda m: m.update(halo=-64))), "halo"),
    # 2. what used to be a raw exception
    ("request-date-does-not-exist", lambda env: _request(env, start="2023-02-30"), "start"),
    ("request-tile-size-not-a-number", lambda env: _request(env, tile_size="big"), "tile_size"),
    ("request-block-size-a-list", lambda env: _request(env, block_size="[256]"), "block_size"),
    ("request-pairing-not-a-mapping", lambda env: _request(env, pairing="fast"), "pairing"),
    ("request-tile-size-fractional", lambda env: _request(env, tile_size="512.5"), "whole number"),
    ("aoi-not-json", lambda env: _args(env, "--aoi", str(env.aoi("POLYGON((0 0, 1 1))"))), "aoi.geojson"),
    (
        "aoi-feature-without-geometry",
        lambda env: _args(
            env, "--aoi", str(env.aoi('{"type": "Feature", "properties": {}, "geometry": null}'))
        ),
        "geometry",
    ),
    ("max-gap-days-overflows", lambda env: _args(env, "--max-gap-days", "1000000000"), "max_gap_days"),
    ("period-in-year-1", lambda env: _args(env, "--start", "0001-01-01", "--end", "0001-02-01"), "1950-2199"),
    ("model-variables-random-bytes", _pkg_case(_random_variables), "variables"),
    (
        "model-variables-folder-missing",
        _pkg_case(lambda p: shutil.rmtree(p / "saved_model" / "variables")),
        "variables",
    ),
    (
        "model-saved-model-pb-truncated",
        _pkg_case(_truncate("saved_model/saved_model.pb", 200)),
        "saved_model.pb",
    ),
    ("model-halo-not-a-number", _pkg_case(_meta(lambda m: m.update(halo="big"))), "halo"),
    ("model-tampered-after-export", _pkg_case(_random_variables, manifest=False), "sha256 differs"),
    (
        "model-name-escapes-the-output",
        _pkg_case(_meta(lambda m: m.update(name="x/../../../../../tmp/ESCAPED"))),
        "field 'name'",
    ),
    ("model-name-absolute", _pkg_case(_meta(lambda m: m.update(name="/tmp/ESCAPED_ABS"))), "field 'name'"),  # noqa: S108
    # 3. output problems that used to be found after all the work
    ("output-is-a-file", lambda env: _args(env, output=str(env.aoi("{}"))), "existing file"),
    ("output-under-proc", lambda env: _args(env, output="/proc/eo-fusion-out"), "/proc"),
    ("output-under-sys", lambda env: _args(env, output="/sys/eo-fusion-out"), "/sys"),
    ("output-cannot-be-created", lambda env: _args(env, output=str(env.aoi("{}") / "out")), "aoi.geojson"),
    (
        "report-dir-under-proc",
        lambda env: [*_args(env)[:-3], "--report-dir", "/proc/eo-fusion-report", "-q"],
        "/proc",
    ),
    # 4. data loss
    ("output-is-the-input-catalog", lambda env: _args(env, output=str(env.catalog)), "overlap"),
    ("output-inside-the-input-catalog", lambda env: _args(env, output=str(env.catalog / "out")), "overlap"),
    ("input-catalog-inside-the-output", lambda env: _args(env, output=str(env.catalog.parent)), "overlap"),
    ("output-empty", lambda env: _args(env, output=""), "is empty"),
    # weak cases
    ("aoi-bowtie-polygon", lambda env: _args(env, "--aoi", str(env.aoi(BOWTIE))), "not a valid polygon"),
    (
        "aoi-empty-feature-collection",
        lambda env: _args(env, "--aoi", str(env.aoi('{"type": "FeatureCollection", "features": []}'))),
        "without features",
    ),
    ("tile-size-unbounded", lambda env: _args(env, "--tile-size", "100000"), "8192"),
]


@pytest.fixture
def env(pipe_scenes: Path, tmp_path: Path) -> Env:
    catalog = tmp_path / "work" / "scenes"
    shutil.copytree(pipe_scenes, catalog, ignore=shutil.ignore_patterns("*.TIF", "*.tif"))
    return Env(catalog, tmp_path)


@pytest.mark.parametrize(("build", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_hostile_request_is_refused_up_front(
    env: Env, build: Callable[[Env], list[str]], expected: str
) -> None:
    args = build(env)
    before = {p: p.read_bytes() for p in env.catalog.rglob("*.json")}
    result = CliRunner().invoke(main, args)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output, result.output
    errors = [line for line in lines if line.startswith("error:") or line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert expected in errors[0], errors[0]
    # Nothing was written: no product folder, the catalog as it was.
    assert not env.output.exists() or not any(env.output.iterdir())
    assert {p: p.read_bytes() for p in env.catalog.rglob("*.json")} == before


def test_the_table_has_every_audited_refusal() -> None:
    assert len(CASES) == len({c[0] for c in CASES}) >= 40


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (["--start", "2023-01-01", "--end", "2023-01-31"], "the search found no scene"),
        (["--aoi", "10.0,50.0,10.1,50.1"], "the search found no scene"),
    ],
    ids=["empty-period", "aoi-far-away"],
)
def test_a_run_without_products_says_why(
    pipe_scenes: Path, tmp_path: Path, extra: list[str], why: str
) -> None:
    env = Env(pipe_scenes, tmp_path)
    args = _args(env, *extra)
    if "--aoi" in extra:  # the area instead of the tile
        i = args.index("--tiles")
        del args[i : i + 2]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 3, result.output
    assert f"no product: {why}" in result.output, result.output
    assert "Traceback" not in result.output
