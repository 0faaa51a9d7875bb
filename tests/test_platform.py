"""Facts restated where they cannot be imported (a Makefile, pyproject.toml, a shell script):
the platform versions (etl_lib.platform) and the local data directory."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from etl_lib.platform import GLUE_VERSION, JAVA_VERSION, PYTHON_VERSION, SPARK_VERSION

REPO = Path(__file__).resolve().parents[1]


def _next_minor(version: str) -> str:
    major, minor = version.split(".")
    return f"{major}.{int(minor) + 1}"


def test_both_distributions_require_exactly_the_platforms_python() -> None:
    for pyproject in (REPO / "pyproject.toml", REPO / "devstack" / "pyproject.toml"):
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        assert project["requires-python"] == f">={PYTHON_VERSION},<{_next_minor(PYTHON_VERSION)}", pyproject


def test_mypy_checks_for_the_platforms_python_and_pyspark_is_the_platforms_spark() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["tool"]["mypy"]["python_version"] == PYTHON_VERSION
    assert f"pyspark=={SPARK_VERSION}" in config["project"]["optional-dependencies"]["spark"]
    assert f"pyspark=={SPARK_VERSION}\n" in (REPO / "constraints.txt").read_text(encoding="utf-8")


def test_the_conda_environment_and_the_lambda_wheels_download_use_the_platforms_versions() -> None:
    environment = (REPO / "environment.yml").read_text(encoding="utf-8")
    assert f"python={PYTHON_VERSION}\n" in environment
    assert f"openjdk={JAVA_VERSION}\n" in environment
    infra_mk = (REPO / "mk" / "infra.mk").read_text(encoding="utf-8")
    assert re.findall(r"--python-version (\S+)", infra_mk) == [PYTHON_VERSION]


def test_the_prerequisite_check_asks_for_the_platforms_python_and_java() -> None:
    script = (REPO / "scripts" / "check-prereqs.sh").read_text(encoding="utf-8")
    assert f"(3, {PYTHON_VERSION.split('.')[1]})" in script
    assert f"Java {JAVA_VERSION} (Spark {SPARK_VERSION.rsplit('.', 1)[0]} / Glue {GLUE_VERSION})" in script
    assert f"-ge {JAVA_VERSION} ]" in script


def test_make_up_keeps_its_state_where_every_tool_looks_for_it() -> None:
    from etl_lib.platform import DEFAULT_DATA_DIR

    local_mk = (REPO / "mk" / "local.mk").read_text(encoding="utf-8")
    assert re.findall(r"^UP_DATA_DIR \?= (\S+)$", local_mk, re.MULTILINE) == [DEFAULT_DATA_DIR]
