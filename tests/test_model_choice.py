"""``classical-auto`` (issue 25, item 4): per product, ESTARFM where two reference pairs bracket
the target date and the one-pair method otherwise.

The one-pair method is :data:`fusion.models.auto.ONE_PAIR_METHOD` (STARFM until FSDAF lands);
these tests read the constant, so they hold for either. The pipeline tests run ``fusion demo
--models`` and ``fusion run`` on the pipeline-test simulation (one 256 px tile), where
2023-07-12 has the pairs of 2023-06-09 and 2023-07-27 on either side and 2023-07-28 only the
one of 2023-07-27 (the simulation ends on 2023-07-31).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pystac.validation
import pytest
import rasterio
import yaml
from click.testing import CliRunner

from fusion import api
from fusion.errors import UnknownNameError
from fusion.evaluation.simulated import simulated_comparisons
from fusion.models import get_exporter, list_choices, list_models, resolve_model
from fusion.models.auto import CLASSICAL_AUTO, ONE_PAIR_METHOD, TWO_PAIR_METHOD
from fusion.models.package import package_checksum
from fusion.pairing import PairingConfig, pair_tile
from pipelines.cli import main
from pipelines.plan import FUSE, plan_run
from pipelines.run import run_fusion
from tests.helpers import broken_links_and_assets
from tests.pipeline_fixtures import PIPE_SIM, PIPE_TILE, pipe_request
from tests.test_pairing import coarse, fine

D = dt.date
MODEL = "classical-auto"
START, END = D(2023, 7, 12), D(2023, 7, 31)
#: the method each target date of the simulation gets, and why
EXPECTED = {
    "2023-07-12": (TWO_PAIR_METHOD, "two reference pairs bracket the target date (2023-06-09, 2023-07-27)"),
    "2023-07-28": (ONE_PAIR_METHOD, "one reference pair (2023-07-27): no usable pair after the target date"),
}
# ------------------------------------------------------------------ the choice, on planned jobs


def _jobs(obs: list[Any], **pairing: Any) -> dict[D, Any]:
    jobs, _ = pair_tile(obs, PairingConfig(**pairing))
    return {j.date: j for j in jobs}


def test_pairs_on_both_sides_choose_estarfm_and_one_pair_the_one_pair_method() -> None:
    obs = [fine(D(2023, 6, 1)), coarse(D(2023, 6, 1)), fine(D(2023, 7, 1)), coarse(D(2023, 7, 1))]
    obs += [coarse(D(2023, 5, 20)), coarse(D(2023, 6, 20)), coarse(D(2023, 7, 10))]
    jobs = _jobs(obs)
    both = CLASSICAL_AUTO.choose(jobs[D(2023, 6, 20)])
    assert (both.choice, both.method) == (MODEL, TWO_PAIR_METHOD)
    assert both.reason == "two reference pairs bracket the target date (2023-06-01, 2023-07-01)"
    after = CLASSICAL_AUTO.choose(jobs[D(2023, 7, 10)])
    assert after.method == ONE_PAIR_METHOD
    assert after.reason == "one reference pair (2023-07-01): no usable pair after the target date"
    before = CLASSICAL_AUTO.choose(jobs[D(2023, 5, 20)])
    assert before.method == ONE_PAIR_METHOD
    assert before.reason == "one reference pair (2023-06-01): no usable pair before the target date"


def test_a_cloudy_or_distant_pair_after_the_date_is_not_usable() -> None:
    cloudy = [fine(D(2023, 6, 1)), coarse(D(2023, 6, 1)), fine(D(2023, 7, 1), clear=0.2)]
    cloudy += [coarse(D(2023, 7, 1)), coarse(D(2023, 6, 20))]
    choice = CLASSICAL_AUTO.choose(_jobs(cloudy)[D(2023, 6, 20)])
    assert choice.method == ONE_PAIR_METHOD and "no usable pair after" in choice.reason
    # 2023-08-10 is 51 days after the target: usable within the default 64, not within 30.
    distant = [fine(D(2023, 6, 1)), coarse(D(2023, 6, 1)), fine(D(2023, 8, 10)), coarse(D(2023, 8, 10))]
    distant += [coarse(D(2023, 6, 20))]
    assert CLASSICAL_AUTO.choose(_jobs(distant)[D(2023, 6, 20)]).method == TWO_PAIR_METHOD
    near = CLASSICAL_AUTO.choose(_jobs(distant, max_gap_days=30)[D(2023, 6, 20)])
    assert near.method == ONE_PAIR_METHOD and "no usable pair after" in near.reason


def test_max_pairs_one_gives_every_job_the_one_pair_method_and_says_so() -> None:
    obs = [fine(D(2023, 6, 1)), coarse(D(2023, 6, 1)), fine(D(2023, 7, 1)), coarse(D(2023, 7, 1))]
    obs += [coarse(D(2023, 6, 20))]
    choice = CLASSICAL_AUTO.choose(_jobs(obs, max_pairs=1)[D(2023, 6, 20)], max_pairs=1)
    assert choice.method == ONE_PAIR_METHOD
    assert choice.reason == "one reference pair (2023-07-01): max_pairs is 1 (one reference pair per target)"


# ------------------------------------------------------------------ what refuses it, and why


def test_classical_auto_is_listed_as_a_choice_and_refused_where_one_package_is_needed(
    tmp_path: Path,
) -> None:
    assert MODEL in list_choices() and MODEL not in list_models()
    assert CLASSICAL_AUTO.packages == (TWO_PAIR_METHOD, ONE_PAIR_METHOD)
    with pytest.raises(UnknownNameError, match=f"name {TWO_PAIR_METHOD} or {ONE_PAIR_METHOD}"):
        resolve_model(MODEL)
    with pytest.raises(UnknownNameError, match="picks a package per product"):
        api.load_model(MODEL)
    with pytest.raises(UnknownNameError, match=f"export-model {TWO_PAIR_METHOD}"):
        get_exporter(MODEL)
    shown = CliRunner().invoke(main, ["models"])
    (line,) = [ln for ln in shown.output.splitlines() if ln.startswith(MODEL)]
    assert "choice" in line and f"else {ONE_PAIR_METHOD}" in line
    out = CliRunner().invoke(main, ["export-model", MODEL, "--out", str(tmp_path / "x")])
    assert out.exit_code == 2 and not (tmp_path / "x").exists()
    assert out.output.startswith("error: ") and out.output.count("\n") == 1
    assert f"export each of them, e.g. `fusion export-model {TWO_PAIR_METHOD}" in out.output


def test_a_choice_of_another_task_is_refused_up_front(pipe_scenes: Path, tmp_path: Path) -> None:
    args = ["--catalog", str(pipe_scenes), "--output", str(tmp_path / "out"), "--start", "2023-07-01"]
    args += [
        "--end",
        "2023-07-31",
        "--task",
        "harmonize",
        "--model",
        MODEL,
        "--report-dir",
        str(tmp_path / "r"),
    ]
    run = CliRunner().invoke(main, ["run", *args])
    assert run.exit_code == 2 and run.output.count("\n") == 1, run.output
    assert f"model '{MODEL}' picks spatiotemporal models" in run.output and "harmonize" in run.output
    demo = CliRunner().invoke(
        main, ["demo", "--out", str(tmp_path / "demo"), "--task", "harmonize", "--models", MODEL]
    )
    assert demo.exit_code == 2 and "a spatiotemporal model, but the demo's task is harmonize" in demo.output
    typo = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "demo"), "--models", "classical-aut"])
    assert typo.exit_code == 2 and "--models classical-aut" in typo.output and MODEL in typo.output
    assert not (tmp_path / "demo").exists()


# ------------------------------------------------------------------ the demo and the pipeline


@pytest.fixture(scope="module")
def auto_demo(pipe_scenes: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``fusion demo --models classical-auto`` on the pipeline-test simulation (the demo's own
    simulation and request swapped for the small ones; the simulated catalog copied in, which
    the demo reuses as it holds this simulation); then each of the choice's packages run on
    its own, into the same output, on the date the choice gave it."""
    import pipelines.cli.run as demo_cli

    out = tmp_path_factory.mktemp("auto-demo")
    shutil.copytree(pipe_scenes, out / "scenes")

    def request(catalog: str, output: str, model: str, start: D = START, end: D = END) -> Any:
        return pipe_request(Path(catalog), Path(output), model=model, start=start, end=end)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo_cli, "demo_simulation", lambda: PIPE_SIM)
        patch.setattr(demo_cli, "demo_request", request)
        result = CliRunner().invoke(main, ["demo", "--out", str(out), "--models", MODEL, "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"products by method ({MODEL}): " in result.output
    for date, (method, _) in EXPECTED.items():
        day = D.fromisoformat(date)
        direct = request(str(out / "scenes"), str(out / "products"), method, day, day)
        assert len(run_fusion(direct, out / "reports" / method).written) == 1
    return out


def _items(products: Path, collection: str) -> dict[str, dict[str, Any]]:
    """The Items of one product collection, by target date."""
    out = {}
    for path in sorted((products / f"eo-fusion-spatiotemporal-{collection}").glob("*/*/*.json")):
        item = json.loads(path.read_text())
        out[item["properties"]["start_datetime"][:10]] = {**item, "path": str(path)}
    return out


@pytest.mark.slow
def test_each_product_names_the_method_that_made_it_and_why(auto_demo: Path) -> None:
    products = auto_demo / "products"
    items = _items(products, MODEL)
    assert sorted(items) == sorted(EXPECTED)
    for date, item in items.items():
        method, reason = EXPECTED[date]
        props = item["properties"]
        assert pystac.validation.validate_dict(
            {k: v for k, v in item.items() if k != "path"} | {"stac_extensions": []}
        )
        assert (props["eo-fusion:method"], props["eo-fusion:method_reason"]) == (method, reason)
        assert props["eo-fusion:method_choice"] == MODEL
        assert props["processing:lineage"].endswith(f"; chosen by {MODEL}: {reason}")
        # The model identity, id and model link are those of the package that made it.
        assert item["id"].startswith(f"spatiotemporal-{method}-{PIPE_TILE}-{date.replace('-', '')}-")
        model = props["eo-fusion:model"]
        assert model["name"] == method
        assert model["checksum"] == f"sha256:{package_checksum(resolve_model(method))}"
        (link,) = [lk for lk in item["links"] if str(lk.get("title", "")).startswith("model: ")]
        model_item = json.loads((Path(item["path"]).parent / link["href"]).read_text())
        assert model_item["properties"]["mlm:name"] == method
    collection = json.loads((products / f"eo-fusion-spatiotemporal-{MODEL}" / "collection.json").read_text())
    assert collection["summaries"]["eo-fusion:model"] == sorted({TWO_PAIR_METHOD, ONE_PAIR_METHOD})
    assert collection["summaries"]["eo-fusion:method_choice"] == [MODEL]
    assert broken_links_and_assets(products / "catalog.json") == []
    # The run's records and summary count the products per method.
    records = [
        json.loads(x) for x in (auto_demo / "reports" / MODEL / "products.jsonl").read_text().splitlines()
    ]
    assert sorted((r["model"], r["choice"]) for r in records) == sorted(
        (m, MODEL) for m, _ in EXPECTED.values()
    )
    counts = ", ".join(f"{m} 1" for m in sorted({TWO_PAIR_METHOD, ONE_PAIR_METHOD}))
    summary = (auto_demo / "reports" / MODEL / "summary.txt").read_text()
    assert f"products by method ({MODEL}): {counts}" in summary


@pytest.mark.slow
def test_an_auto_product_has_the_pixels_of_its_package_run_directly(auto_demo: Path) -> None:
    products = auto_demo / "products"
    auto = _items(products, MODEL)
    for date, (method, _) in EXPECTED.items():
        direct = _items(products, method)[date]
        assert "eo-fusion:method" not in direct["properties"]  # the request named the package
        assert direct["properties"]["eo-fusion:model"] == auto[date]["properties"]["eo-fusion:model"]
        assert direct["id"] != auto[date]["id"]  # another product (collection, Item), same pixels
        auto_cog, direct_cog = (Path(i["path"]).with_suffix(".tif") for i in (auto[date], direct))
        with rasterio.open(auto_cog) as a, rasterio.open(direct_cog) as b:
            assert np.array_equal(a.read(), b.read())
            assert a.profile == b.profile


@pytest.mark.slow
def test_the_demo_scores_classical_auto_as_one_model_naming_each_products_method(auto_demo: Path) -> None:
    scores = (auto_demo / "scores.md").read_text()
    for method, _ in EXPECTED.values():
        assert f"| {MODEL}: {method} |" in scores
    assert f"| **{MODEL}** |" in scores
    page = (auto_demo / "index.html").read_text()
    for date, (method, _) in EXPECTED.items():
        assert f"<td>{date}</td>" in page and f"<td>{MODEL}: {method}</td>" in page
    assert f"<h3>{MODEL}: " in page and (auto_demo / "comparison.png").stat().st_size > 0
    # `fusion evaluate simulated --models classical-auto,estarfm` compares them by the model each run named.
    (comparison,) = simulated_comparisons(
        auto_demo / "products", auto_demo / "scenes", [MODEL, TWO_PAIR_METHOD]
    )
    assert "2023-07-12" in comparison.title
    assert np.array_equal(
        comparison.predictions[MODEL], comparison.predictions[TWO_PAIR_METHOD], equal_nan=True
    )


@pytest.mark.slow
def test_the_plan_and_a_rerun_from_a_request_file_find_every_product_and_write_nothing(
    auto_demo: Path, tmp_path: Path
) -> None:
    products = auto_demo / "products"
    written = {i["id"] for i in _items(products, MODEL).values()}
    request = pipe_request(auto_demo / "scenes", products, model=MODEL, start=START, end=END)
    # The dry run names each date's method; its product ids are the run's (same packages, same ids).
    fresh = plan_run(
        pipe_request(auto_demo / "scenes", tmp_path / "empty", model=MODEL, start=START, end=END)
    )
    rows = {r.date: r for r in fresh.rows if r.action == FUSE}
    assert {d: (r.model, r.method_reason) for d, r in rows.items()} == EXPECTED
    assert {r.product_id for r in rows.values()} == written
    counts = ", ".join(f"{m} 1" for m in sorted({TWO_PAIR_METHOD, ONE_PAIR_METHOD}))
    assert fresh.text().splitlines()[-1].endswith(f"; by method: {counts}")
    # `model: classical-auto` in a request file, run again: every product exists, nothing is written.
    fields = {
        "catalog": request.catalog,
        "output": request.output,
        "start": str(START),
        "end": str(END),
        "model": MODEL,
        "tile_size": request.tile_size,
        "block_size": request.block_size,
        "tiles": list(request.tiles or ()),
    }
    (tmp_path / "request.yaml").write_text(yaml.safe_dump(fields))
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in products.rglob("*") if p.is_file()}
    result = CliRunner().invoke(
        main,
        ["run", "--request", str(tmp_path / "request.yaml"), "--report-dir", str(tmp_path / "r"), "--quiet"],
    )
    assert result.exit_code == 0, result.output
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in products.rglob("*") if p.is_file()}
    assert after == before
    assert "products written: 0, skipped as existing: 2" in result.output
    assert f"products by method ({MODEL}): {counts}" in result.output
    records = [json.loads(x) for x in (tmp_path / "r" / "products.jsonl").read_text().splitlines()]
    assert {r["product_id"] for r in records} == written and {r["status"] for r in records} == {"exists"}
