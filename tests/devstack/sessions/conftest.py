"""One local Glue sessions endpoint per test process, and the kernel environment that
points the unchanged glue_pyspark kernel at it (through `etl session-config --local`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from etl_devstack.sessions.config import local_config, write_config
from etl_devstack.sessions.server import Endpoint, start
from etl_lib.notebook.kernel import install_glue_kernels, install_kernel
from etl_lib.notebook.session_config import CONFIG_ENV
from tests.notebooks.conftest import NOTEBOOKS

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/etl-local-glue-session"
# Kernel and sessions talk to 127.0.0.1 only: the endpoint's key, and the kernel's start-up
# look-up of its newest version on PyPI goes to a closed local port instead (it then says
# which version is installed, as it does offline).
ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
}


def _credential_env(endpoint: Endpoint) -> dict[str, str]:
    credentials = endpoint.credentials()
    return {
        "AWS_ACCESS_KEY_ID": credentials["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": credentials["aws_secret_access_key"],
    }


@pytest.fixture(scope="session")
def _endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Endpoint, Path]]:
    work = tmp_path_factory.mktemp("glue-sessions")
    with start(work_dir=str(work / "sessions"), cwd=NOTEBOOKS) as endpoint:
        config = local_config(endpoint.url, work, access_key_id=endpoint.access_key_id)
        yield endpoint, write_config(config, work / ".glue-session.json")


@pytest.fixture
def glue_endpoint(_endpoint: tuple[Endpoint, Path], monkeypatch: pytest.MonkeyPatch) -> Endpoint:
    """The endpoint, and this test's environment pointing at it (kernels, the sessions they
    start and boto3 in the test inherit it; it is undone after the test)."""
    endpoint, config = _endpoint
    for name, value in {**ENV, **_credential_env(endpoint)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # Sessions read S3 objects from the endpoint's moto, as the tests write them.
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
    monkeypatch.setenv(CONFIG_ENV, str(config))
    return endpoint


@pytest.fixture(scope="session")
def glue_kernel() -> str:
    install_kernel()
    assert install_glue_kernels(), "aws-glue-sessions is not installed"
    return "glue_pyspark"


@pytest.fixture
def glue(glue_endpoint: Endpoint):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client("glue", endpoint_url=glue_endpoint.url, region_name=REGION)


def fixtures_dir() -> Path:
    return NOTEBOOKS / "fixtures"


@pytest.fixture(scope="session")
def etl_kernel() -> str:
    install_kernel()
    return "etl-local"
