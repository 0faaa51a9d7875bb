"""Asset directories are assembled from the repository without Docker or network."""

from __future__ import annotations

import base64
import email.parser
import hashlib
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
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


def _developer_stack(paths: list[str]) -> list[str]:
    """The paths of ``paths`` (relative, ``/``-separated) that belong to the developer stack: its
    package, or a ``local/`` or ``sessions/`` package (where ``etl up`` and the sessions endpoint were)."""
    return [
        path
        for path in paths
        if path.split("/")[0] == "etl_devstack" or {"local", "sessions"} & set(path.split("/")[1:-1])
    ]


def _deployed_code(kind: str, where: Path) -> Path:
    """The code the Glue job (its wheel, unzipped) or the Lambdas (their source directory) run."""
    if kind == "wheel":
        with zipfile.ZipFile(assets.build_etl_lib_wheel(where / "wheel")) as wheel:
            wheel.extractall(where / "unzipped")
        return where / "unzipped"
    return assets.stage_lambda_source(where / "lambda")


def test_the_glue_wheel_and_the_lambda_code_hold_no_developer_stack(tmp_path: Path) -> None:
    with zipfile.ZipFile(assets.build_etl_lib_wheel(tmp_path / "wheel")) as wheel:
        in_wheel = wheel.namelist()
    assert {name.split("/")[0] for name in in_wheel} == {"etl_lib", "parquet_json_etl-0.1.0.dist-info"}
    assert "etl_lib/notebook/session_config.py" in in_wheel  # the notebooks' extension, which Glue loads
    assert _developer_stack(in_wheel) == []
    staged = assets.stage_lambda_source(tmp_path / "lambda")
    in_lambda = [path.relative_to(staged).as_posix() for path in staged.rglob("*") if path.is_file()]
    assert {path.split("/")[0] for path in in_lambda} == set(assets.LAMBDA_PACKAGES) == {"lambdas", "etl_lib"}
    assert _developer_stack(in_lambda) == []
    # What the check looks for, as it was before the developer stack left etl_lib.
    assert _developer_stack(["etl_lib/local/server.py", "etl_lib/jobs/local.py", "etl_devstack/x.py"]) == [
        "etl_lib/local/server.py",
        "etl_devstack/x.py",
    ]


@pytest.mark.parametrize("kind", ["wheel", "lambda"])
def test_the_deployed_library_converts_without_the_developer_stack(kind: str, tmp_path: Path) -> None:
    code = _deployed_code(kind, tmp_path)
    src, dest = tmp_path / "in.parquet", tmp_path / "out.jsonl"
    pq.write_table(pa.table({"a": [1, None, 3]}), src)
    repository = [str(assets.REPO), str(assets.REPO / "devstack")]  # the editable installs' path entries
    probe = textwrap.dedent(
        f"""
        import sys
        sys.path[:] = [{str(code)!r}] + [p for p in sys.path if p not in {repository!r} and p not in ("", ".")]
        sys.modules["etl_devstack"] = None  # importing it, or anything in it, raises ImportError
        import etl_lib
        from etl_lib.cli import main
        assert main(["convert", "--engine", "local", {str(src)!r}, {str(dest)!r}]) == 0
        report = etl_lib.convert({str(src)!r}, {str(tmp_path / "again.jsonl")!r}, engine="local")
        print(etl_lib.__file__)
        print(report.rows_out, sorted(name for name in sys.modules if name.startswith("etl_devstack.")))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    location, result = done.stdout.splitlines()[-2:]
    assert Path(location).is_relative_to(code)
    assert result == "3 []"
    assert dest.read_text() == '{"a":1}\n{"a":null}\n{"a":3}\n'


def _wheelhouse(folder: Path, pins: dict[str, str], tag: str = "py3-none-any") -> Path:
    """A wheelhouse with a (content-less) wheel file named for each pin: staging reads names only."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, version in pins.items():
        (folder / f"{name.replace('-', '_')}-{version}-{tag}.whl").write_bytes(b"")
    return folder


def test_glue_artifacts_are_staged(tmp_path: Path) -> None:
    pins = assets.wheelhouse_pins()
    wheelhouse = _wheelhouse(tmp_path / "wheelhouse", {**pins, "left-over": "1.0"})
    staged, present = assets.stage_glue_artifacts(tmp_path / "glue", wheelhouse)
    assert present == assets.GLUE_SCRIPT.is_file()
    assert (staged / "scripts" / "parquet_to_json.py").is_file()
    assert (staged / "scripts" / "validate_notebook.py").is_file()
    assert (staged / "notebooks" / "03-validate-output.ipynb").read_bytes() == assets.VALIDATION_NOTEBOOK.read_bytes()
    assert (staged / "wheels" / assets.wheel_name()).is_file()
    # The closure's wheels, and nothing else the wheelhouse holds.
    others = [path.name for path in (staged / "wheels").glob("*.whl") if path.name != assets.wheel_name()]
    assert dict(assets.wheel_identity(name) for name in others) == pins


def test_the_wheelhouse_covers_the_library_and_the_notebook_jobs_closure() -> None:
    pins = assets.wheelhouse_pins()
    assert {"pyarrow", "pydantic", "pydantic-core", "numpy", "papermill", "ipykernel"} <= set(pins)
    assert pins == assets.runtime_closure(*assets.wheel_requirements(), *assets.NOTEBOOK_MODULES)
    assert all(version == assets.pinned(name) for name, version in pins.items())


def test_synth_without_the_wheelhouse_fails_in_one_line_saying_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(assets.WheelhouseError) as missing:
        assets.stage_glue_artifacts(tmp_path / "glue", tmp_path / "no-wheelhouse")
    message = str(missing.value)
    assert "\n" not in message
    assert "lacks" in message and "make wheelhouse" in message
    assert not (tmp_path / "glue").exists(), "nothing is staged before the check"


def test_a_wheel_of_another_version_or_platform_does_not_count(tmp_path: Path) -> None:
    pins = {"pyarrow": "25.0.1", "six": "1.17.0"}
    wheelhouse = _wheelhouse(tmp_path / "a", {"six": "1.17.0", "pyarrow": "24.0.0"})
    with pytest.raises(assets.WheelhouseError, match=r"lacks pyarrow==25\.0\.1 for Glue"):
        assets.glue_wheels(wheelhouse, pins)
    # A macOS, an aarch64 and a too-new-glibc build of the right version install nowhere on Glue.
    elsewhere = ("macosx_11_0_arm64", "manylinux_2_28_aarch64", "manylinux_2_39_x86_64")
    for platform in elsewhere:
        _wheelhouse(tmp_path / "a", {"pyarrow": "25.0.1"}, f"cp313-cp313-{platform}")
    with pytest.raises(assets.WheelhouseError, match=r"lacks pyarrow==25\.0\.1"):
        assets.glue_wheels(wheelhouse, pins)
    _wheelhouse(tmp_path / "a", {"pyarrow": "25.0.1"}, "cp313-cp313-manylinux_2_28_x86_64")
    found = assets.glue_wheels(wheelhouse, pins)
    assert found["pyarrow"].name == "pyarrow-25.0.1-cp313-cp313-manylinux_2_28_x86_64.whl"
    assert found["six"].name == "six-1.17.0-py3-none-any.whl"


def test_missing_glue_script_is_replaced_by_a_failing_placeholder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assets, "GLUE_SCRIPT", tmp_path / "absent" / "parquet_to_json.py")
    wheelhouse = _wheelhouse(tmp_path / "wheelhouse", assets.wheelhouse_pins())
    staged, present = assets.stage_glue_artifacts(tmp_path / "glue", wheelhouse)
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
