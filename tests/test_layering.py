"""Layering (DESIGN.md §5): fusion/ is free of Beam, the CLI and pipelines, and acyclic."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.layering import violations

ROOT = Path(__file__).resolve().parents[1]


def test_fusion_imports_no_beam_cli_or_pipelines_and_has_no_import_cycle() -> None:
    assert violations(ROOT) == []


def test_the_layering_check_finds_a_planted_beam_import_and_a_planted_cycle(tmp_path: Path) -> None:
    shutil.copytree(
        ROOT / "fusion", tmp_path / "fusion", ignore=shutil.ignore_patterns("packages", "__pycache__")
    )
    assert violations(tmp_path) == []
    (tmp_path / "fusion" / "planted_beam.py").write_text("def f():\n    import apache_beam as beam\n")
    (tmp_path / "fusion" / "planted_cli.py").write_text("from pipelines.cli import main\n")
    (tmp_path / "fusion" / "grid_extra.py").write_text("from fusion.publish import NODATA\n")
    # fusion.publish -> fusion.grid already; close the loop grid -> grid_extra -> publish
    grid = tmp_path / "fusion" / "grid.py"
    grid.write_text(
        grid.read_text() + "\n\ndef _planted() -> None:\n    from fusion import grid_extra  # noqa\n"
    )
    found = violations(tmp_path)
    assert "fusion/planted_beam.py:2 imports apache_beam" in found
    assert "fusion/planted_cli.py:1 imports pipelines.cli.main" in found
    planted = [v for v in found if v.startswith("import cycle:")]
    assert len(planted) == 1 and {"fusion.grid", "fusion.grid_extra", "fusion.publish"} <= set(
        planted[0].removeprefix("import cycle: ").split(" -> ")
    ), found
    # TYPE_CHECKING imports are for type checkers only: no cycle.
    grid.write_text(
        grid.read_text().replace(
            "def _planted() -> None:\n    from fusion import grid_extra  # noqa\n",
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from fusion import grid_extra  # noqa\n",
        )
    )
    assert [v for v in violations(tmp_path) if v.startswith("import cycle:")] == []
