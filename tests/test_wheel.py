"""The wheel is complete: built from this checkout and installed in a fresh virtual
environment, it lists the built-in models and loads the Keras networks that fine-tuning starts
from, importing eo-fusion from the installed wheel, not from the checkout."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    py = sys.executable
    dist = tmp_path / "dist"
    build = ["wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(dist), str(ROOT)]
    _run([py, "-m", "pip", *build], tmp_path)
    (wheel,) = dist.glob("eo_fusion-*.whl")
    venv = tmp_path / "venv"
    _run([py, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    _run([py, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet", "--no-deps",
          str(wheel)], tmp_path)  # fmt: skip
    # The dependencies (TensorFlow, Beam, GDAL...) come from the test environment: a plain path
    # entry after the fresh venv's own site-packages, so its editable eo-fusion hook stays off.
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([str(venv / "bin" / "python"), "-c", purelib], tmp_path).strip())
    (site / "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import fusion, pipelines; print(fusion.__file__)"], tmp_path
    )
    assert where.strip().startswith(str(site)), where
    # Those are the tested versions (`make install` takes requirements/constraints.txt), and
    # the wheel's requirement ranges accept them: pip check sees the wheel's metadata first.
    wheel_meta = "import importlib.metadata as m; print(m.distribution('eo-fusion').locate_file(''))"
    meta = _run([str(venv / "bin" / "python"), "-c", wheel_meta], tmp_path)
    assert meta.strip().startswith(str(site)), meta
    _run([py, "-m", "pip", "--python", str(venv / "bin" / "python"), "check"], tmp_path)
    models = _run([str(venv / "bin" / "fusion"), "models"], tmp_path)
    for name in ("dcstfn", "mgan", "starfm", "naive", "bandpass", "area-average"):
        assert any(line.split()[0] == name for line in models.splitlines() if line.strip()), models
    check = (
        "from fusion.models import resolve_model\n"
        "from fusion.models.dcstfn.export import load_networks\n"
        "nets = load_networks(resolve_model('dcstfn'))\n"
        "print(len(nets), sum(n.count_params() for n in nets))\n"
    )
    count, params = _run([str(venv / "bin" / "python"), "-c", check], tmp_path).split()
    assert int(count) >= 1 and int(params) > 0
