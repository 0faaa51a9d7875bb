"""Shared fixtures: one local Spark session per test process, and a converter that runs
the full pipeline (read, contract, write, publish) with either engine."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from etl_lib.contract import native
from etl_lib.conversion import Engine, convert
from etl_lib.options import Compression, ConvertOptions, OutputFormat
from etl_lib.report import RunReport
from tests.contract_oracle import parse_json

# The job, Lambda and notebook tests share the fixtures of this module
# (moto's server, the local and AWS environments, the job services): registered once here.
pytest_plugins = ["tests.jobs.support"]


def _corpus() -> Path:
    """The Apache parquet-testing corpus: $PARQUET_TESTING_DIR, else ``shared/parquet-testing``
    beside the checkout (the project's layout: ``../shared`` from the repository)."""
    configured = os.environ.get("PARQUET_TESTING_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared" / "parquet-testing"


CORPUS = _corpus()
CORPUS_FOUND = (CORPUS / "data").is_dir()


def corpus_files(*folders: str, pattern: str = "*.parquet") -> list[Path]:
    """The corpus files under ``folders`` (sorted), for parametrizing; none when the corpus is
    missing, which :func:`needs_corpus` then turns into a skip, or a failure under CI."""
    if not CORPUS_FOUND:
        return []
    return [p for folder in folders for p in sorted((CORPUS / folder).rglob(pattern)) if p.is_file()]


def needs_corpus() -> pytest.MarkDecorator:
    """Skip a module when the corpus is missing, locally; under CI (``CI=true``) a missing
    corpus fails the run instead, so it can never silently test nothing."""
    if not CORPUS_FOUND and os.environ.get("CI") == "true":
        raise pytest.UsageError(f"the conformance corpus is missing at {CORPUS} (set PARQUET_TESTING_DIR)")
    return pytest.mark.skipif(not CORPUS_FOUND, reason=f"conformance corpus not found at {CORPUS}")


ENGINES = [Engine.LOCAL, Engine.SPARK]
# The local engine runs every suite with each JSON encoder (etl_lib.contract.native: the native kernel,
# and the Arrow-kernel reference it must match); Spark with the default (native) one.
ENCODERS = [native.NATIVE, native.REFERENCE]
ENGINE_RUNS = [(Engine.LOCAL, native.NATIVE), (Engine.LOCAL, native.REFERENCE), (Engine.SPARK, native.NATIVE)]

TESTS = Path(__file__).resolve().parent
# The slow suites, marked by where they live (a file or a folder under tests/), so that a test
# added there is marked too. Tests that use Spark are marked wherever they are (below).
SLOW_SUITES = {
    "notebooks": "notebook",
    "infra": "infra",
    "devstack/local": "stack",
    "bench": "bench",
    "jobs/test_end_to_end_aws.py": "e2e",
}
SLOW_MARKERS = frozenset({"spark", "large", *SLOW_SUITES.values()})


def _uses_spark(item: pytest.Item) -> bool:
    if "spark" in getattr(item, "fixturenames", ()):
        return True
    callspec = getattr(item, "callspec", None)  # the `engine` parameter of run_convert
    return callspec is not None and Engine.SPARK in callspec.params.values()


def _slow_suite(path: Path) -> str | None:
    where = path.relative_to(TESTS).as_posix() if path.is_relative_to(TESTS) else ""
    for suite, marker in SLOW_SUITES.items():
        if where == suite or where.startswith(suite + "/"):
            return marker
    return None


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With ``-m "not slow"`` every test of a slow suite would be deselected: skip importing them
    (notebook, CDK and server imports are a good part of a fast run)."""
    if config.getoption("markexpr") == "not slow" and _slow_suite(collection_path):
        return True
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the slow suites, and each of their tests `slow` (`make test-fast` runs `-m "not slow"`)."""
    for item in items:
        suite = _slow_suite(item.path)
        if suite:
            item.add_marker(suite)
        if _uses_spark(item):
            item.add_marker("spark")
        if any(item.get_closest_marker(marker) for marker in SLOW_MARKERS):
            item.add_marker("slow")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from etl_lib.spark.session import local_spark

    session = local_spark("etl-tests", cores="2")
    yield session
    session.stop()


def read_records(path: Path, options: ConvertOptions) -> list[Any]:
    raw = path.read_bytes()
    if options.compression is Compression.GZIP:
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8")
    if options.format is OutputFormat.JSON:
        return parse_json(text)
    assert text == "" or text.endswith("\n")
    # Records end at "\n" only: str.splitlines would also cut at U+0085 and U+001C-U+001E,
    # which JSON strings may hold raw.
    return [parse_json(line) for line in text.split("\n")[:-1]]


Converter = Callable[..., tuple[list[Any], RunReport]]


@pytest.fixture(params=ENCODERS)
def encoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with this JSON encoder (etl_lib.contract.native.ENCODER_ENV)."""
    if request.param == native.NATIVE and native.load_error() is not None:
        pytest.fail(f"the native encoder does not load: {native.load_error()}")
    monkeypatch.setenv(native.ENCODER_ENV, request.param)
    return str(request.param)


@pytest.fixture(
    params=ENGINE_RUNS, ids=lambda run: run[0].value if run[1] == native.NATIVE else f"{run[0].value}-{run[1]}"
)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Engine:
    engine, encoder = request.param
    monkeypatch.setenv(native.ENCODER_ENV, encoder)
    return engine


@pytest.fixture
def run_convert(engine: Engine, request: pytest.FixtureRequest, tmp_path: Path) -> Converter:
    """Convert with the parametrised engine; returns (parsed records, report)."""

    def run(
        src: Path | str, options: ConvertOptions | None = None, dest: Path | None = None
    ) -> tuple[list[Any], RunReport]:
        options = options or ConvertOptions()
        dest = dest or tmp_path / f"out{options.file_extension}"
        session = request.getfixturevalue("spark") if engine is Engine.SPARK else None
        report = convert(str(src), str(dest), options, engine=engine, spark=session)
        return read_records(dest, options), report

    return run
