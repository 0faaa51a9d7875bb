"""etl_lib.notebook without a kernel: translator, Glue magics extension, kernelspec,
storage, validation of contract edge cases under every option, runner error scan."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nbformat
import pyarrow.parquet as pq
import pytest

from etl_lib.conversion import convert
from etl_lib.demo import contract_table
from etl_lib.notebook import glue_local, kernel, validation
from etl_lib.notebook.runner import find_errors
from etl_lib.notebook.storage import locate, read_job_bytes
from etl_lib.notebook.validate_jobs import parse_since, recent
from etl_lib.notebook.validation import ValidationError, validate_output
from etl_lib.options import Compression, ConvertOptions, OutputFormat
from etl_lib.platform import GLUE_VERSION
from tests.conftest import CORPUS as conftest_corpus
from tests.conftest import needs_corpus
from tests.notebooks.conftest import FIXTURES, NOTEBOOKS

# --- papermill translator -------------------------------------------------------------


def _glue_notebook(with_language_info: bool) -> nbformat.NotebookNode:
    from papermill.iorw import load_notebook_node  # how papermill loads (adds empty tag lists)

    nb = load_notebook_node(str(NOTEBOOKS / "03-validate-output.ipynb"))
    assert nb.metadata.kernelspec.name == "glue_pyspark"
    assert nb.metadata.language_info.name == "Python_Glue_Session"  # as the Glue kernel saves it
    if not with_language_info:
        del nb.metadata["language_info"]
    return nb


@pytest.mark.parametrize("with_language_info", [True, False])
def test_translator_injects_parameters_into_glue_notebook(with_language_info: bool) -> None:
    from papermill.parameterize import parameterize_notebook

    nb = parameterize_notebook(
        _glue_notebook(with_language_info), {"sample_size": 7, "options": '{"drop_nulls": true}'}
    )
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    injected_values: dict[str, Any] = {}
    exec(injected[0].source, injected_values)  # Python, as for a python kernel
    assert injected_values["sample_size"] == 7
    assert injected_values["options"] == '{"drop_nulls": true}'
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert tags.index(["injected-parameters"]) == tags.index(["parameters"]) + 1


def test_translator_comes_from_the_entry_point_in_a_fresh_process() -> None:
    """Nothing imports etl_lib here: papermill loads it through its engine entry points."""
    code = ("from papermill.translators import papermill_translators as t, PythonTranslator\n"
            "assert t.find_translator('glue_pyspark', 'Python_Glue_Session') is PythonTranslator\n"
            "assert t.find_translator('some-kernel', 'Python_Glue_Session') is PythonTranslator\n")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)


def test_papermill_cli_with_glue_kernel_injects_parameters(tmp_path: Path) -> None:
    """``papermill -k glue_pyspark ... -p`` (prepare only: no Glue session to start here)."""
    out = tmp_path / "prepared.ipynb"
    papermill = Path(sys.executable).parent / "papermill"
    subprocess.run(
        [str(papermill), "-k", "glue_pyspark", "--prepare-only", str(NOTEBOOKS / "03-validate-output.ipynb"), str(out),
         "-p", "sample_size", "9", "-p", "options", '{"drop_nulls": true}'],
        check=True, capture_output=True, cwd=NOTEBOOKS,
    )  # fmt: skip
    nb = nbformat.read(out, as_version=4)
    assert nb.metadata.kernelspec.name == "glue_pyspark"
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    values: dict[str, Any] = {}
    exec(injected[0].source, values)
    assert (values["sample_size"], values["options"]) == (9, '{"drop_nulls": true}')


def test_papermill_alone_has_no_glue_translator() -> None:
    """Why the translator is needed: papermill's own registry does not know the language."""
    from papermill.exceptions import PapermillException
    from papermill.translators import PapermillTranslators, PythonTranslator

    plain = PapermillTranslators()
    plain.register("python", PythonTranslator)
    with pytest.raises(PapermillException, match="Python_Glue_Session"):
        plain.find_translator("glue_pyspark", "Python_Glue_Session")


# --- Glue magics extension and kernel ---------------------------------------------------


def _installed_glue_magics() -> tuple[set[str], set[str]]:
    import aws_glue_interactive_sessions_kernel as glue

    source = (Path(glue.__file__).parent / "glue_kernel_utils" / "KernelMagics.py").read_text()
    return set(re.findall(r"@line_magic\('(\w+)'\)", source)), set(re.findall(r"@cell_magic\('(\w+)'\)", source))


def test_extension_covers_the_installed_glue_magics() -> None:
    line, cell = _installed_glue_magics()
    assert set(glue_local.GLUE_LINE_MAGICS) == line
    assert set(glue_local.GLUE_CELL_MAGICS) | {"sql"} == cell


def test_extension_registers_no_op_magics_and_glue_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path))  # keep the user's ~/.ipython out of it
    shell = InteractiveShell.instance()
    assert shell.extension_manager is not None
    try:
        shell.extension_manager.load_extension("etl_lib.notebook.glue_local")
        shell.run_cell(
            "%glue_version 6.0\n%worker_type G.1X\n%number_of_workers 2\n%idle_timeout 30", store_history=False
        )
        shell.run_cell('%%configure\n{"--enable-auto-scaling": "true"}', store_history=False)
        assert glue_local.SETTINGS["glue_version"] == GLUE_VERSION
        assert glue_local.SETTINGS["number_of_workers"] == "2"
        assert "enable-auto-scaling" in glue_local.SETTINGS["configure"]
        magics = shell.magics_manager.magics
        assert set(glue_local.GLUE_LINE_MAGICS) <= set(magics["line"])
        assert set(glue_local.GLUE_CELL_MAGICS) | {"sql"} <= set(magics["cell"])
        assert {"spark", "sc", "glueContext"} <= set(shell.user_ns)
        assert "started on first use" in repr(shell.user_ns["spark"])  # no JVM until used
        assert shell.user_ns["glueContext"].spark_session is shell.user_ns["spark"]
    finally:
        InteractiveShell.clear_instance()


def test_kernel_installed_into_the_environment(tmp_path: Path) -> None:
    path = kernel.install_kernel(tmp_path)
    spec = json.loads(path.read_text())
    assert path == tmp_path / "share" / "jupyter" / "kernels" / "etl-local" / "kernel.json"
    assert spec["argv"][:3] == [sys.executable, "-m", "ipykernel_launcher"]
    assert "--ext=etl_lib.notebook.glue_local" in spec["argv"]
    glue = kernel.install_glue_kernels(tmp_path)
    assert [p.parent.name for p in glue] == ["glue_pyspark", "glue_spark"]
    assert json.loads(glue[0].read_text())["display_name"] == "Glue PySpark"


# --- storage -----------------------------------------------------------------------------


def test_storage_reads_local_paths_and_the_local_store(tmp_path: Path) -> None:
    store = tmp_path / ".etl-local" / "objects" / "outputs" / "job1"
    store.mkdir(parents=True)
    (store / "data.jsonl.gz").write_bytes(gzip.compress(b'{"a":1}\n'))
    assert read_job_bytes("s3://outputs/job1/data.jsonl.gz", data_dir=tmp_path / ".etl-local") == b'{"a":1}\n'
    assert read_job_bytes(str(store / "data.jsonl.gz"), decompress=False)[:2] == b"\x1f\x8b"
    assert locate("s3://inputs/k/x.parquet") == "s3://inputs/k/x.parquet"
    assert locate("s3://inputs/k/x.parquet", tmp_path) == str(tmp_path / "objects" / "inputs" / "k" / "x.parquet")


def test_storage_reads_s3_with_awswrangler(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="outputs")
        s3.put_object(Bucket="outputs", Key="j/report.json", Body=b"{}")
        assert read_job_bytes("s3://outputs/j/report.json") == b"{}"
        s3.put_object(Bucket="outputs", Key="j/out.jsonl.gz", Body=gzip.compress(b'{"a":1}\n'))
        assert read_job_bytes("s3://outputs/j/out.jsonl.gz") == b'{"a":1}\n'


# --- validation --------------------------------------------------------------------------

OPTION_SETS = [
    ConvertOptions(),
    ConvertOptions(drop_nulls=True, bigint_as_string=True, decimal_as_string=True, nan_as_string=True),
    ConvertOptions(format=OutputFormat.JSON, compression=Compression.GZIP, drop_nulls=True),
]


def _converted(tmp_path: Path, options: ConvertOptions) -> tuple[str, str, str]:
    src = tmp_path / "contract.parquet"
    pq.write_table(contract_table(), src)
    dest = tmp_path / f"out{options.file_extension}"
    report = convert(str(src), str(dest), options, engine="local")
    (tmp_path / "report.json").write_text(report.to_json())
    return str(src), str(dest), str(tmp_path / "report.json")


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: o.file_extension + ("-all" if o.nan_as_string else ""))
def test_contract_edge_cases_round_trip_under_every_option(options: ConvertOptions, tmp_path: Path) -> None:
    src, dest, report = _converted(tmp_path, options)
    summary = validate_output(src, dest, report, options.to_json(), summary_path=tmp_path / "s.json")
    assert summary["status"] == "passed"
    assert summary["checks"]["round_trip"]["checked"] == 3
    assert json.loads((tmp_path / "s.json").read_text()) == summary


def _fixture_run(tmp_path: Path, edit: Any) -> dict[str, Any]:
    lines = (FIXTURES / "sample.golden.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    out = tmp_path / "out.jsonl"
    out.write_text("".join(edit(lines)), encoding="utf-8")
    with pytest.raises(ValidationError) as failed:
        validate_output(str(FIXTURES / "sample.parquet"), str(out), str(FIXTURES / "sample.report.json"),
                        summary_path=tmp_path / "summary.json")  # fmt: skip
    assert json.loads((tmp_path / "summary.json").read_text()) == failed.value.summary
    return failed.value.summary


def _set(lines: list[str], index: int, key: str, value: Any) -> list[str]:
    record = json.loads(lines[index])
    record[key] = value
    return [*lines[:index], json.dumps(record, ensure_ascii=False) + "\n", *lines[index + 1 :]]


def test_missing_record_fails_row_counts(tmp_path: Path) -> None:
    summary = _fixture_run(tmp_path, lambda lines: lines[:-1])
    assert summary["checks"]["row_counts"]["ok"] is False
    assert summary["checks"]["row_counts"]["output_records"] == 119


def test_schema_violation_fails_json_schema(tmp_path: Path) -> None:
    summary = _fixture_run(tmp_path, lambda lines: _set(lines, 3, "quantity", "3"))
    assert summary["checks"]["json_schema"] == {"ok": False, "records_checked": 120, "invalid_records": 1}
    assert any("record 3 at quantity" in e for e in summary["errors"])


def test_changed_value_fails_round_trip(tmp_path: Path) -> None:
    summary = _fixture_run(tmp_path, lambda lines: _set(lines, 7, "category", "books!"))
    assert summary["checks"]["round_trip"]["mismatched"] == [7]
    assert summary["checks"]["json_schema"]["ok"] is True


def test_truncated_line_is_reported_not_crashing(tmp_path: Path) -> None:
    summary = _fixture_run(tmp_path, lambda lines: [*lines[:2], lines[2][:20] + "\n", *lines[3:]])
    assert summary["checks"]["json_schema"]["invalid_records"] == 1
    assert 2 in summary["checks"]["round_trip"]["mismatched"]


def test_options_must_match_the_report() -> None:
    with pytest.raises(ValidationError, match="options") as failed:
        validate_output(str(FIXTURES / "sample.parquet"), str(FIXTURES / "sample.golden.jsonl"),
                        str(FIXTURES / "sample.report.json"), '{"drop_nulls": true}')  # fmt: skip
    checks = failed.value.summary["checks"]
    assert [name for name, check in checks.items() if not check["ok"]] == ["options"]


def test_golden_fixture_passes_in_full() -> None:
    summary = validate_output(str(FIXTURES / "sample.parquet"), str(FIXTURES / "sample.golden.jsonl"),
                              str(FIXTURES / "sample.report.json"), "{}")  # fmt: skip
    assert summary["checks"]["round_trip"] == {"ok": True, "checked": 120, "records": 120, "sampled": False,
                                               "mismatched": []}  # fmt: skip
    assert summary["notes"] == []


def test_one_wrong_value_in_record_2_of_120_fails_with_its_reason(tmp_path: Path) -> None:
    wanted = json.loads((FIXTURES / "sample.golden.jsonl").read_text(encoding="utf-8").splitlines()[2])["quantity"]
    summary = _fixture_run(tmp_path, lambda lines: _set(lines, 2, "quantity", wanted + 1))
    assert summary["checks"]["round_trip"] == {"ok": False, "checked": 120, "records": 120, "sampled": False,
                                               "mismatched": [2]}  # fmt: skip
    assert summary["errors"] == ["record 2 does not round-trip: $.quantity: VALUE_MISMATCH"]  # no values kept


def test_above_the_full_check_size_a_sample_is_compared_and_the_summary_says_so(tmp_path: Path) -> None:
    summary = validate_output(str(FIXTURES / "sample.parquet"), str(FIXTURES / "sample.golden.jsonl"),
                              str(FIXTURES / "sample.report.json"), sample_size=50)  # fmt: skip
    assert summary["checks"]["round_trip"] == {"ok": True, "checked": 50, "records": 120, "sampled": True,
                                               "mismatched": []}  # fmt: skip
    assert summary["notes"] == ["sampled 50 of 120 records (above 50 records only a sample is compared)"]


def test_every_record_is_compared_with_the_re_encoded_input_not_only_the_independent_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the records the per-value reading checks, re-encoding alone still finds a wrong value."""
    monkeypatch.setattr(validation, "INDEPENDENT_CHECKS", 0)
    summary = _fixture_run(tmp_path, lambda lines: _set(lines, 119, "category", "books!"))
    assert summary["checks"]["round_trip"]["mismatched"] == [119]
    assert summary["errors"][0].startswith("record 119 does not round-trip: $.category: ")


# --- runner and scheduling helpers --------------------------------------------------------


def test_find_errors_reads_outputs_not_status() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a"), nbformat.v4.new_code_cell("b"), nbformat.v4.new_code_cell("c")]
    nb.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stderr", text='Setting default log level to "WARN".\n')
    ]
    nb.cells[1].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="AnalysisException: [TABLE_OR_VIEW_NOT_FOUND]\n")
    ]
    nb.cells[2].outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[])]
    assert [(e.cell, e.kind) for e in find_errors(nb)] == [(1, "stream:stdout"), (2, "error")]


def test_since_and_recent() -> None:
    assert parse_since("24h") == timedelta(hours=24)
    assert parse_since("7d") == timedelta(days=7)
    with pytest.raises(ValueError, match="24h"):
        parse_since("yesterday")
    now = datetime(2026, 1, 2, tzinfo=UTC)
    jobs = [
        {"job_id": "old", "finished_at": "2025-12-30T00:00:00Z"},
        {"job_id": "new", "finished_at": "2026-01-01T12:00:00+00:00"},
        {"job_id": "unknown"},
    ]
    assert [j["job_id"] for j in recent(jobs, timedelta(hours=24), now)] == ["new", "unknown"]


def test_strip_restores_a_committable_notebook(tmp_path: Path) -> None:
    from etl_lib.notebook.strip import main as strip_main

    nb = nbformat.read(NOTEBOOKS / "01-explore.ipynb", as_version=4)
    nb.metadata["kernelspec"] = {"name": "etl-local", "display_name": "etl-local", "language": "python"}
    nb.metadata["papermill"] = {"parameters": {}}
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    nb.cells[3].execution_count = 4
    path = tmp_path / "01-explore.ipynb"
    nbformat.write(nb, path)

    strip_main([str(path)])

    assert path.read_text() == (NOTEBOOKS / "01-explore.ipynb").read_text()


CORPUS = conftest_corpus / "data"


@needs_corpus()
def test_validation_passes_on_the_conformance_corpus(tmp_path: Path) -> None:
    """The per-value reading of the contract agrees with the encoder on the corpus files of
    up to 2,000 rows (every record is checked against the schema: larger files are slow)."""
    from etl_lib.errors import ConversionError

    failures, validated = [], 0
    for src in sorted(CORPUS.glob("*.parquet")):
        try:
            if pq.ParquetFile(src).metadata.num_rows > 2_000:
                continue
        except Exception:  # unreadable footers: refused by convert below, skip them here
            continue
        dest = tmp_path / f"{src.stem}.jsonl"
        try:
            report = convert(str(src), str(dest), OPTION_SETS[1], engine="local")  # every option on
        except ConversionError:
            continue  # inputs the conversion refuses (tests/contract/test_conformance.py covers those)
        (tmp_path / "report.json").write_text(report.to_json())
        try:
            validate_output(str(src), str(dest), str(tmp_path / "report.json"), sample_size=50)
            validated += 1
        except ValidationError as exc:
            failures.append(f"{src.name}: {exc}")
    assert not failures
    assert validated > 40


def test_session_config_applies_its_cell_magics_with_the_rest_of_the_line_as_the_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`etl session-config` writes the pip options as ``%%configure {...}`` (the kernel has no
    line magic for them): the extension must run it as a cell magic, the others as lines."""
    from IPython.core.interactiveshell import InteractiveShell

    from etl_lib.notebook.session_config import CONFIG_ENV

    config = tmp_path / "session.json"
    option = '{"--python-modules-installer-option": "--no-index --no-deps"}'
    magics = ["%glue_version 6.0", "%additional_python_modules s3://b/glue/wheels/a.whl,s3://b/glue/wheels/b.whl"]
    config.write_text(json.dumps({"source": "test", "env": {}, "magics": [*magics, f"%%configure {option}"]}))
    monkeypatch.setenv(CONFIG_ENV, str(config))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path))
    shell = InteractiveShell.instance()
    assert shell.extension_manager is not None
    try:
        shell.extension_manager.load_extension("etl_lib.notebook.glue_local")
        shell.extension_manager.load_extension("etl_lib.notebook.session_config")
        assert glue_local.SETTINGS["configure"] == option
        assert glue_local.SETTINGS["additional_python_modules"] == "s3://b/glue/wheels/a.whl,s3://b/glue/wheels/b.whl"
    finally:
        InteractiveShell.clear_instance()
