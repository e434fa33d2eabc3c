"""Infrastructure checks: Terraform parses and passes checkov, and the pieces that must agree
(pyproject ranges and the constraints file, Beam and TensorFlow pins, template parameters,
pipeline options, scheduler body) agree."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import apache_beam
import hcl2
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pipelines.launch import fusion_option_names

ROOT = Path(__file__).resolve().parents[1]
TERRAFORM = ROOT / "terraform"
INFRA = ROOT / "infra"
TF_FILES = sorted(TERRAFORM.glob("*.tf"))


def _hcl(path: Path) -> dict[str, Any]:
    with path.open() as fh:
        parsed: dict[str, Any] = hcl2.load(fh)
    return parsed


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps string literals quoted ('"x"'); interpolations stay '${...}'."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _resources() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path in TF_FILES:
        for block in _hcl(path).get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    out.append((_unquote(rtype), _unquote(name), body))
    return out


def _locals() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in TF_FILES:
        for block in _hcl(path).get("locals", []):
            merged.update({k: v for k, v in block.items() if not k.startswith("__")})
    return merged


def _metadata() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((INFRA / "metadata.json").read_text())
    return data


CONSTRAINTS = ROOT / "requirements" / "constraints.txt"


def _name(name: str) -> str:
    return canonicalize_name(name)


def _constraints() -> dict[str, str]:
    """requirements/constraints.txt: normalized name -> exact version."""
    pins: dict[str, str] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            m = re.fullmatch(r"([A-Za-z0-9][\w.-]*)==([\w.]+)", line)
            assert m, f"constraints.txt: not an exact pin: {line!r}"
            assert _name(m.group(1)) not in pins, f"constraints.txt pins {m.group(1)} twice"
            pins[_name(m.group(1))] = m.group(2)
    return pins


def _pyproject_requirements() -> dict[str, list[Requirement]]:
    """pyproject.toml's requirements: "dependencies" and each extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"dependencies": project["dependencies"], **project["optional-dependencies"]}
    return {group: [Requirement(r) for r in reqs] for group, reqs in groups.items()}


def _pin(package: str) -> str:
    pins = _constraints()
    assert _name(package) in pins, f"{package} is not pinned in requirements/constraints.txt"
    return pins[_name(package)]


# ------------------------------------------------------------------------------- HCL + checkov


def test_every_terraform_file_parses_and_defines_the_stack() -> None:
    assert TF_FILES, "terraform/ has no .tf files"
    for path in TF_FILES:
        _hcl(path)  # raises on a syntax error
    types = {rtype for rtype, _, _ in _resources()}
    for needed in (
        "google_storage_bucket",
        "google_artifact_registry_repository",
        "google_service_account",
        "google_storage_bucket_object",
        "google_cloud_scheduler_job",
        "google_compute_subnetwork",
    ):
        assert needed in types, needed


def test_providers_are_pinned_exactly() -> None:
    versions = _hcl(TERRAFORM / "versions.tf")["terraform"][0]
    providers = versions["required_providers"][0]
    names = [k for k in providers if not k.startswith("__")]
    assert names
    for name in names:
        version = _unquote(providers[name]["version"])
        assert re.fullmatch(r"= ?\d+\.\d+\.\d+", version), f"{name} provider is not pinned exactly: {version}"


def _checkov() -> str:
    exe = os.environ.get("CHECKOV") or str(ROOT / ".venv-checkov" / "bin" / "checkov")
    if not Path(exe).is_file():
        pytest.fail(f"checkov not found at {exe}: run `make test` (it installs .venv-checkov) or set CHECKOV")
    return exe


def _checkov_report(directory: Path) -> dict[str, Any]:
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}  # no network: do not fetch guideline links
    proc = subprocess.run(
        [_checkov(), "-d", str(directory), "--framework", "terraform", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def test_checkov_finds_no_failed_check_and_every_skip_has_a_reason() -> None:
    report = _checkov_report(TERRAFORM)
    summary = report["summary"]
    failed = report["results"].get("failed_checks", [])
    assert summary["parsing_errors"] == 0
    assert summary["failed"] == 0, [(c["check_id"], c["resource"], c["file_path"]) for c in failed]
    assert summary["passed"] >= 40, summary
    assert summary["resource_count"] >= 25, summary
    for skipped in report["results"].get("skipped_checks", []):
        reason = (skipped["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) > 20, f"skip of {skipped['check_id']} on {skipped['resource']} has no reason"
    # Every skip comment in the sources names a check and carries a reason.
    for path in TF_FILES:
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                assert re.search(r"checkov:skip=CKV2?_[A-Z]+_\d+:\S.{20,}", line), (
                    f"{path.name}: {line.strip()}"
                )


def test_checkov_fails_a_public_bucket_and_a_project_wide_act_as(tmp_path: Path) -> None:
    """The scan above would notice a regression: break two rules in a copy and it fails."""
    broken = tmp_path / "terraform"
    broken.mkdir()
    for path in TF_FILES:
        (broken / path.name).write_text(path.read_text())
    storage = broken / "storage.tf"
    storage.write_text(storage.read_text().replace('"enforced"', '"inherited"', 1))
    (broken / "bad.tf").write_text(
        'resource "google_project_iam_member" "bad" {\n  project = var.project\n'
        '  role    = "roles/iam.serviceAccountUser"\n'
        '  member  = "serviceAccount:${google_service_account.scheduler.email}"\n}\n'
    )
    report = _checkov_report(broken)
    failed = {c["check_id"] for c in report["results"].get("failed_checks", [])}
    assert "CKV_GCP_114" in failed  # public access prevention not enforced
    assert "CKV_GCP_41" in failed or "CKV_GCP_49" in failed  # actAs at project level


# ----------------------------------------------------------------------- security properties


def test_no_service_account_keys_no_public_buckets_no_default_compute_account() -> None:
    resources = _resources()
    types = [rtype for rtype, _, _ in resources]
    assert "google_service_account_key" not in types
    text = "\n".join(p.read_text() for p in TF_FILES)
    for forbidden in ("allUsers", "allAuthenticatedUsers", "compute@developer.gserviceaccount.com"):
        assert forbidden not in text, forbidden
    assert "google_compute_default_service_account" not in text
    buckets = [(name, body) for rtype, name, body in resources if rtype == "google_storage_bucket"]
    assert len(buckets) == 4
    for name, body in buckets:
        assert body["uniform_bucket_level_access"] is True, name
        assert _unquote(body["public_access_prevention"]) == "enforced", name
        assert body["versioning"][0]["enabled"] is True, name
    # IAM: members are only our two service accounts, and actAs is granted on one account only.
    for rtype, name, body in resources:
        if (rtype, name) == ("google_storage_bucket_iam_member", "access_log_delivery"):
            # Google's log-delivery group may only create objects in the access-log bucket.
            assert _unquote(body["member"]) == "group:cloud-storage-analytics@google.com"
            assert _unquote(body["role"]) == "roles/storage.objectCreator"
            assert body["bucket"] == "${google_storage_bucket.access_logs.name}"
            continue
        if rtype.endswith("_iam_member"):
            assert re.fullmatch(
                r"serviceAccount:\$\{google_service_account\.(worker|scheduler)\.email\}",
                _unquote(body["member"]),
            ), (rtype, name, body["member"])
        if rtype == "google_project_iam_member":
            role = _unquote(body["role"])
            assert role not in {"roles/owner", "roles/editor", "roles/iam.serviceAccountUser"}, role
    # Jobs run as the worker account, never the project default.
    env = _locals()["launch_environment"]
    assert env["serviceAccountEmail"] == "${google_service_account.worker.email}"
    assert _unquote(env["ipConfiguration"]) == "WORKER_IP_PRIVATE"


# --------------------------------------------------------------------------- consistency


def test_pyproject_gives_ranges_that_hold_the_pins_of_the_constraints_file() -> None:
    """The library metadata takes ranges (it installs beside other tools); the exact tested
    versions are requirements/constraints.txt, and each range holds its pin."""
    pins = _constraints()
    for group, reqs in _pyproject_requirements().items():
        for req in reqs:
            specs = {spec.operator for spec in req.specifier}
            assert not specs & {"==", "==="}, f"{group}: {req} is exact: pin it in constraints.txt"
            assert ">=" in specs, f"{group}: {req} has no lower bound"
            if group in ("dependencies", "cpu", "gpu"):
                assert "<" in specs, f"{group}: {req} has no upper bound"
            assert _name(req.name) in pins, f"{group}: {req.name} is not pinned in constraints.txt"
            assert req.specifier.contains(pins[_name(req.name)], prereleases=True), (
                f"{group}: {req} does not hold the pin {req.name}=={pins[_name(req.name)]}"
            )
    # The deprecated shim is gone; the maintained distribution provides `stac_validator`.
    assert "stac-validator" not in pins
    assert "stac-valid" in {_name(r.name) for r in _pyproject_requirements()["test"]}


def test_make_install_and_the_image_install_with_the_constraints_file() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^CONSTRAINTS := requirements/constraints\.txt$", makefile, re.M)
    rule = re.search(r"^\$\(VENV\)/\.installed: (.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert rule, "Makefile has no $(VENV)/.installed rule"
    # A change of the pins reinstalls .venv.
    assert "$(CONSTRAINTS)" in rule.group(1).split()
    assert 'pip install --quiet -e ".[cpu,test,lint]" -c $(CONSTRAINTS)' in rule.group(2)
    # The build backend setup.py and the wheel test use is the pinned one (>= 77: SPDX license).
    assert re.search(r'pip install --quiet "setuptools>=77" -c \$\(CONSTRAINTS\)', rule.group(2))
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    (setuptools_req,) = [Requirement(r) for r in build if Requirement(r).name == "setuptools"]
    assert setuptools_req.specifier.contains(_pin("setuptools"))
    dockerfile = (INFRA / "Dockerfile").read_text()
    assert "COPY requirements/constraints.txt ./requirements/" in dockerfile
    assert 'pip install ".[gpu]" -c requirements/constraints.txt' in dockerfile


def test_beam_version_agrees_in_constraints_setup_py_and_dockerfile(tmp_path: Path) -> None:
    pinned = _pin("apache-beam")
    dockerfile = (INFRA / "Dockerfile").read_text()
    arg = re.search(r"^ARG BEAM_VERSION=([\w.]+)$", dockerfile, re.M)
    assert arg and arg.group(1) == pinned, f"Dockerfile BEAM_VERSION {arg and arg.group(1)} != {pinned}"
    # The boot entrypoint comes from the SDK image of exactly that version.
    assert "FROM apache/beam_python${PYTHON_VERSION}_sdk:${BEAM_VERSION} AS beam" in dockerfile
    assert "COPY --from=beam /opt/apache/beam /opt/apache/beam" in dockerfile
    py = re.search(r"^ARG PYTHON_VERSION=(\d+\.\d+)$", dockerfile, re.M)
    assert py and py.group(1) == f"{sys.version_info.major}.{sys.version_info.minor}"
    # What Dataflow's --setup_file sees: metadata generated from setup.py, a range that holds
    # the pin (the image already carries exactly that version).
    subprocess.run(
        [sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    requires = (next(tmp_path.glob("*.egg-info")) / "requires.txt").read_text().splitlines()
    (beam,) = [Requirement(r) for r in requires if r.startswith("apache-beam")]
    assert beam.extras == {"gcp"} and beam.specifier.contains(pinned), beam
    # And the installed Beam (what the tests ran with) is that pin.
    assert apache_beam.__version__ == pinned


def test_dockerfile_installs_the_gpu_build_of_the_pinned_tensorflow_and_runs_pip_check() -> None:
    dockerfile = (INFRA / "Dockerfile").read_text()
    # Both builds are pinned to the same version, and both extras take the same range.
    assert _pin("tensorflow") == _pin("tensorflow-cpu")
    reqs = _pyproject_requirements()
    (gpu,) = [r for r in reqs["gpu"] if r.name == "tensorflow"]
    (cpu,) = [r for r in reqs["cpu"] if r.name == "tensorflow-cpu"]
    assert gpu.specifier == cpu.specifier
    assert f"tensorflow=={_pin('tensorflow')}" in dockerfile  # the CUDA/cuDNN notes name it
    assert 'pip install ".[gpu]" -c requirements/constraints.txt' in dockerfile
    # TF 2.21's [and-cuda] extra asks for CUDA 12 >= 12.5 and cuDNN 9 >= 9.3: the base must match,
    # the compiler package must be the base's CUDA version, and the build checks the cuDNN.
    base = re.search(r"ARG CUDA_IMAGE=nvidia/cuda:12\.(\d+)\.\d+-cudnn-runtime-ubuntu22\.04", dockerfile)
    assert base and int(base.group(1)) >= 5
    assert f"ARG CUDA_PKG_VERSION=12-{base.group(1)}" in dockerfile
    assert "cuda-nvcc-${CUDA_PKG_VERSION}" in dockerfile
    assert 'dpkg --compare-versions "$v" ge 9.3' in dockerfile
    assert dockerfile.rstrip().splitlines()[-1] == 'ENTRYPOINT ["/opt/apache/beam/boot"]'
    assert re.search(r"pip check\s*$", dockerfile.split("ENV FLEX_TEMPLATE")[0].rstrip(), re.M)
    assert "FLEX_TEMPLATE_PYTHON_PY_FILE=/opt/eo-fusion/pipelines/main.py" in dockerfile
    assert (ROOT / "pipelines" / "main.py").is_file()


def test_metadata_parameters_are_pipeline_options_and_vice_versa() -> None:
    params = {p["name"]: p for p in _metadata()["parameters"]}
    all_options = set(PipelineOptions([]).get_all_options())
    for name in params:
        assert name in all_options, f"metadata.json parameter {name!r} is not a pipeline option"
    missing = set(fusion_option_names()) - set(params)
    assert not missing, f"pipeline options without a template parameter: {sorted(missing)}"
    for name, param in params.items():
        assert param.get("regexes"), f"parameter {name} has no regexes"
        assert param.get("helpText") and param.get("label"), name
        for rx in param["regexes"]:
            re.compile(rx)


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("request", "gs://bucket/requests/daily.yaml", "/home/me/request.yaml"),
        ("output", "gs://my-bucket/products", "products"),
        ("start", "2024-03-01", "1 March"),
        ("last_days", "16", "0"),
        ("tiles", "14N-0020-0188,14N-0021-0188", "14N-20-188"),
        ("aoi", "-99.2,19.3,-99.0,19.5", "Mexico City"),
        ("model", "starfm", "gs://x/y; rm -rf"),
        ("dataflow_service_options", "worker_accelerator=type:nvidia-l4;count:1;install-nvidia-driver", "x"),
    ],
)
def test_parameter_regexes_accept_good_and_refuse_bad_values(name: str, good: str, bad: str) -> None:
    param = next(p for p in _metadata()["parameters"] if p["name"] == name)
    assert all(re.fullmatch(rx, good) for rx in param["regexes"]), good
    assert not all(re.fullmatch(rx, bad) for rx in param["regexes"]), bad


def test_scheduler_body_uses_only_template_parameters() -> None:
    params = {p["name"] for p in _metadata()["parameters"]}
    local = _locals()
    used = set(local["request_parameters"]) | set(local["gpu_parameters"])
    assert used <= params, sorted(used - params)
    assert local["launch_parameters"] == (
        '${merge(local.request_parameters, var.gpu_type == "" ? {} : local.gpu_parameters)}'
    )
    body = local["launch_body"]["launchParameter"]
    assert body["parameters"] == "${local.launch_parameters}"
    assert body["environment"] == "${local.launch_environment}"
    # The scheduler job posts exactly that body to flexTemplates:launch with an OAuth token.
    (job,) = [b for t, _, b in _resources() if t == "google_cloud_scheduler_job"]
    target = job["http_target"][0]
    assert _unquote(target["http_method"]) == "POST"
    assert _unquote(target["uri"]).endswith("/flexTemplates:launch")
    assert target["body"] == "${base64encode(jsonencode(local.launch_body))}"
    assert target["oauth_token"][0]["service_account_email"] == "${google_service_account.scheduler.email}"


def test_template_spec_embeds_the_metadata_file() -> None:
    objects = {n: b for t, n, b in _resources() if t == "google_storage_bucket_object"}
    content = objects["template_spec"]["content"]
    assert 'jsondecode(file("${path.module}/../infra/metadata.json"))' in content
    assert 'language = "PYTHON"' in content
