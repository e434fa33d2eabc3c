"""`fusion train MODEL`: one subcommand per entry of the trainer registry, dispatched through
:func:`fusion.models.get_trainer`; a model without a trainer is refused with the registry's list."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fusion.models import TRAINERS, TrainerEntry
from fusion.training.pairs import SCHEMA
from pipelines.cli import main

#: What the stand-in trainer below was called with.
CALLS: list[tuple[str, Any]] = []


@dataclass(frozen=True)
class FakeModel:
    bottom_filters: int = 1
    generator_filters: tuple[int, ...] = ()
    discriminator_filters: tuple[int, ...] = ()


@dataclass(frozen=True)
class FakeConfig:
    model: FakeModel = field(default_factory=FakeModel)
    batch_size: int = 0
    max_minutes: float = 0.0
    max_steps: int | None = None
    validate_every: int = 0
    validation_every: int = 0
    clip_percentiles: tuple[float, float] | None = None
    residual: bool = False
    augment_geometry: bool = False
    seed: int = 0


@dataclass
class FakeResult:
    steps: int = 3
    seconds: float = 0.0
    best_step: int = 2
    scores: dict[str, Any] = field(default_factory=dict)


def fake_train(data: Any, cfg: FakeConfig, progress: Any) -> FakeResult:
    CALLS.append(("train", (data.root, cfg)))
    return FakeResult()


def fake_export(path: Path, result: FakeResult, cfg: FakeConfig, data: Any, command: str | None) -> Path:
    CALLS.append(("export", path))
    return Path(path)


def fake_describe(scores: dict[str, Any]) -> str:
    return "fake scores"


def test_train_lists_the_registered_trainers_and_train_mgan_is_gone() -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["train", "--help"])
    assert out.exit_code == 0, out.output
    assert "dcstfn" in out.output and "mgan" in out.output
    top = runner.invoke(main, ["--help"])
    assert "train-mgan" not in top.output
    assert runner.invoke(main, ["train-mgan", "--help"]).exit_code == 2


def test_a_model_without_a_trainer_is_refused_with_the_registrys_list() -> None:
    out = CliRunner().invoke(main, ["train", "starfm", "--data", "x", "--out", "y"])
    assert out.exit_code == 2
    assert "no trainer for model 'starfm'; choose one of dcstfn, mgan" in out.output


def test_a_registered_trainer_without_options_is_listed_and_refused_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(TRAINERS, "toy", TrainerEntry("toy", "a:b", "a:train", "a:c", "a:d"))
    runner = CliRunner()
    assert "toy" in runner.invoke(main, ["train", "--help"]).output
    out = runner.invoke(main, ["train", "toy"])
    assert out.exit_code == 2 and "has a trainer (a:train) but `fusion train` has no options" in out.output


def test_train_mgan_runs_the_config_train_export_and_describe_of_the_registry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    here = __name__
    entry = TrainerEntry(
        "mgan", f"{here}:FakeConfig", f"{here}:fake_train", f"{here}:fake_export", f"{here}:fake_describe"
    )
    monkeypatch.setitem(TRAINERS, "mgan", entry)
    data = tmp_path / "pairs"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"schema": SCHEMA, "task": "harmonize", "pairs": []}))
    CALLS.clear()
    args = ["train", "mgan", "--data", str(data), "--out", str(tmp_path / "pkg"), "--max-steps", "3"]
    out = CliRunner().invoke(main, [*args, "--bottom-filters", "5", "--no-clip", "-q"])
    assert out.exit_code == 0, out.output
    assert "trained 3 steps" in out.output and "fake scores" in out.output
    (name, (root, cfg)), export = CALLS
    assert name == "train" and root == data and export == ("export", tmp_path / "pkg")
    assert isinstance(cfg, FakeConfig) and cfg.max_steps == 3 and cfg.clip_percentiles is None
    assert cfg.model == FakeModel(5, (32, 64, 128, 256, 256, 256, 256), (32, 64, 128, 256))  # the defaults


def test_importing_the_cli_imports_neither_tensorflow_nor_beam() -> None:
    heavy = ("tensorflow", "keras", "apache_beam")
    code = f"import sys, pipelines.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
