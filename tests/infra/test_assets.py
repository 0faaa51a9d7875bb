"""Asset directories are assembled from the repository without Docker or network."""

from __future__ import annotations

import base64
import email.parser
import hashlib
import zipfile
from pathlib import Path

import pytest

from infra import assets


def test_lambda_source_holds_handlers_and_library(tmp_path: Path) -> None:
    staged = assets.stage_lambda_source(tmp_path / "lambda")
    assert (staged / "etl_lib" / "__init__.py").is_file()
    assert (staged / "lambdas").is_dir()
    for name in ("upload", "status", "download", "events"):
        if (assets.REPO / "lambdas" / name / "handler.py").is_file():
            assert (staged / "lambdas" / name / "handler.py").is_file()
    assert not list(staged.rglob("__pycache__"))
    assert not list(staged.rglob("*.pyc"))


def test_source_mode_never_uses_the_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / assets.BUNDLE_MARKER).touch()
    monkeypatch.setattr(assets, "LAMBDA_BUNDLE_DIR", bundle)
    monkeypatch.setattr(assets, "stage_lambda_source", lambda: tmp_path / "source")
    assert assets.lambda_code_dir("auto") == bundle
    assert assets.lambda_code_dir("source") == tmp_path / "source"
    (bundle / assets.BUNDLE_MARKER).unlink()
    assert assets.lambda_code_dir("auto") == tmp_path / "source"


def test_etl_lib_wheel_is_valid_and_reproducible(tmp_path: Path) -> None:
    first = assets.build_etl_lib_wheel(tmp_path / "a")
    second = assets.build_etl_lib_wheel(tmp_path / "b")
    assert first.name == assets.wheel_name() == "parquet_json_etl-0.1.0-py3-none-any.whl"
    assert first.read_bytes() == second.read_bytes(), "same sources, same bytes, same asset hash"
    with zipfile.ZipFile(first) as wheel:
        names = set(wheel.namelist())
        assert "etl_lib/__init__.py" in names
        assert not any("__pycache__" in n for n in names)
        metadata = email.parser.Parser().parsestr(wheel.read("parquet_json_etl-0.1.0.dist-info/METADATA").decode())
        assert metadata["Name"] == "parquet-json-etl"
        assert any(req.startswith("pyarrow") for req in metadata.get_all("Requires-Dist", []))
        record = wheel.read("parquet_json_etl-0.1.0.dist-info/RECORD").decode().splitlines()
        for line in record:
            name, digest, size = line.rsplit(",", 2)
            if not digest:
                continue
            data = wheel.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={expected}", name
            assert int(size) == len(data), name
        assert {n for n in names if not n.endswith("RECORD")} == {line.split(",")[0] for line in record[:-1]}


def test_glue_artifacts_are_staged(tmp_path: Path) -> None:
    staged, present = assets.stage_glue_artifacts(tmp_path / "glue")
    assert present == assets.GLUE_SCRIPT.is_file()
    assert (staged / "scripts" / "parquet_to_json.py").is_file()
    assert (staged / "scripts" / "validate_notebook.py").is_file()
    assert (staged / "notebooks" / "03-validate-output.ipynb").read_bytes() == assets.VALIDATION_NOTEBOOK.read_bytes()
    assert (staged / "wheels" / assets.wheel_name()).is_file()


def test_missing_glue_script_is_replaced_by_a_failing_placeholder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assets, "GLUE_SCRIPT", tmp_path / "absent" / "parquet_to_json.py")
    staged, present = assets.stage_glue_artifacts(tmp_path / "glue")
    assert not present
    assert "raise SystemExit" in (staged / "scripts" / "parquet_to_json.py").read_text()


def test_site_falls_back_to_a_placeholder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assets, "FRONTEND_DIST", tmp_path / "dist")
    assert assets.site_dir() == assets.PLACEHOLDER_SITE
    assert (assets.PLACEHOLDER_SITE / "index.html").is_file()
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "index.html").write_text("<!doctype html>")
    assert assets.site_dir() == tmp_path / "dist"


def test_prune_bundle_keeps_what_the_handlers_load(tmp_path: Path) -> None:
    keep = [
        "pyarrow/__init__.py",
        "pyarrow/libarrow.so.2600",
        "pyarrow/libarrow_python.so.2600",
        "pyarrow/libarrow_substrait.so.2600",  # linked by pyarrow.lib
        "pyarrow/_s3fs.cpython-313-x86_64-linux-gnu.so",
        "numpy/__init__.py",
        "etl_lib/__init__.py",
    ]
    drop = [
        "pyarrow/libarrow_python.so",
        "pyarrow/libarrow_python.so.2600.1.0",
        "pyarrow/libarrow_flight.so.2600",
        "pyarrow/_flight.cpython-313-x86_64-linux-gnu.so",
        "pyarrow/include/arrow/api.h",
        "pyarrow/lib.pyx",
        "pyarrow/tests/test_array.py",
        "numpy/_core/tests/test_umath.py",
        "pydantic/__pycache__/main.cpython-313.pyc",
    ]
    for name in keep + drop:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x" * 10)
    size = assets.prune_bundle(tmp_path)
    assert size == 10 * len(keep)
    for name in keep:
        assert (tmp_path / name).is_file(), name
    for name in drop:
        assert not (tmp_path / name).exists(), name
