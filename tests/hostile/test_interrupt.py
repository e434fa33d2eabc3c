"""Ctrl-C: a run stopped mid-way says how to resume, leaves no scratch or Beam temporary folder
and no partial file at a final path, and the same command then finishes the rest."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.helpers import is_valid_cog
from tests.pipeline_fixtures import PIPE_TILE


def _command(scenes: Path, tmp_path: Path) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", "run", "--catalog", str(scenes),
            "--output", str(tmp_path / "products"), "--start", "2023-06-01", "--end", "2023-06-30",
            "--tiles", PIPE_TILE, "--tile-size", "256", "--block-size", "128", "--model", "naive",
            "--report-dir", str(tmp_path / "report")]  # fmt: skip


def _items(output: Path) -> list[Path]:
    return [p for p in output.glob("eo-fusion-*/*/*/*.json")]


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(pipe_scenes: Path, tmp_path: Path) -> None:
    output = tmp_path / "products"
    # A shell that started the tests in the background may have set SIGINT to "ignore" for its
    # children; the run under test gets the default, as in a terminal.
    run = subprocess.Popen(
        _command(pipe_scenes, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # Interrupt while the first product is being written (its scratch folder exists).
    scratch = os.path.join(tempfile.gettempdir(), f"eo-fusion-product-{run.pid}-*")
    deadline = time.monotonic() + 240
    while not glob.glob(scratch) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run.poll() is None, "the run finished before it could be interrupted:\n" + run.communicate()[0]
    run.send_signal(signal.SIGINT)
    text, _ = run.communicate(timeout=120)
    assert run.returncode == 130, text
    assert "interrupted; re-run the same request to resume" in text
    assert "Traceback" not in text, text
    assert not glob.glob(scratch)
    assert not list((tmp_path / "report").glob("beam-temp-*"))
    # Whatever reached a final path is whole: every Item's COG is a valid COG.
    before = _items(output)
    for item in before:
        assert is_valid_cog(item.with_suffix(".tif"))[0], item
        json.loads(item.read_text())
    assert not [p for p in output.rglob("*") if p.name.endswith(".partial")]

    again = subprocess.run(_command(pipe_scenes, tmp_path), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"skipped as existing: {len(before)}" in again.stdout, again.stdout
    assert len(_items(output)) > len(before)
    assert (output / "catalog.json").is_file()
