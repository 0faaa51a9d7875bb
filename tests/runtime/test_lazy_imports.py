"""`etl convert` imports only what converting needs: every run pays its imports before the
first row, and on a small file they are a large part of the run (docs/benchmarks.md)."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_lib._runtime.lazy import DEBUG, INFO, WARNING, lazy_module, log

# Modules a conversion on the native encoder's path must not execute.
# (etl_devstack: the developer stack's commands, which `etl` finds through importlib.metadata.)
NOT_ON_THE_CONVERT_PATH = ("pyarrow.compute", "etl_devstack", "importlib.metadata._adapters")


def _executed_after(code: str) -> set[str]:
    """The names of NOT_ON_THE_CONVERT_PATH that were executed after running ``code`` in a
    fresh interpreter (a lazily loaded module that nobody touched does not count)."""
    probe = textwrap.dedent(
        f"""
        import importlib.util, sys
        {code}
        for name in {NOT_ON_THE_CONVERT_PATH!r}:
            module = sys.modules.get(name)
            if module is not None and not isinstance(module, importlib.util._LazyModule):
                print(name)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return set(done.stdout.split())


def test_importing_the_cli_and_the_converter_executes_no_module_the_conversion_does_not_need() -> None:
    assert _executed_after("import etl_lib.cli, etl_lib.conversion") == set()


def test_a_native_conversion_never_loads_the_compute_functions(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    table = pa.table({"a": [1, None, 3], "s": ["x", "y", None], "t": pa.array([1, 2, 3], pa.timestamp("us"))})
    pq.write_table(table, src)
    dest = tmp_path / "out.jsonl"
    code = f"from etl_lib.conversion import convert; convert({str(src)!r}, {str(dest)!r}, engine='local')"
    assert "pyarrow.compute" not in _executed_after(code)
    assert dest.read_text().count("\n") == 3


def test_a_lazy_module_is_executed_on_first_use() -> None:
    json_module = lazy_module("json")  # already imported by pytest: returned as it is
    assert json_module is sys.modules["json"]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from etl_lib._runtime.lazy import lazy_module; m = lazy_module('colorsys'); "
            "print(type(sys.modules['colorsys']).__name__); print(m.rgb_to_hsv(1, 0, 0)); "
            "print(type(sys.modules['colorsys']).__name__)",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.split("\n")[:3] == ["_LazyModule", "(0.0, 1.0, 1)", "module"]


def test_a_local_conversion_from_the_command_line_never_loads_numpy(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"a": [1, None, 3], "d": pa.array([0, 1, None], pa.date32())}), src)
    dest = tmp_path / "out.jsonl"
    probe = textwrap.dedent(
        f"""
        import importlib.util, sys
        from etl_lib.cli import main
        code = main(["convert", {str(src)!r}, {str(dest)!r}, "--engine", "local"])
        numpy = sys.modules.get("numpy")
        executed = numpy is not None and not isinstance(numpy, importlib.util._LazyModule)
        print(code, executed, sys.modules["pyarrow"].lib.np)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.split() == ["0", "False", "None"]
    records = ['{"a":1,"d":"1970-01-01"}', '{"a":null,"d":"1970-01-02"}', '{"a":3,"d":null}']
    assert dest.read_text().splitlines() == records


def test_the_reference_encoder_and_the_int96_reader_work_where_pyarrow_has_no_numpy() -> None:
    # `etl convert` imports pyarrow without numpy; a batch the native encoder hands to the
    # reference (an invalid value, a type it does not know) and the INT96 reader must then
    # still work, with numpy loaded on their first use. Their own tests prove it, run so.
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.pyarrow_without_numpy",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
            "-k",
            "not spark",
            "tests/contract/test_contract_rules.py",
            "tests/input/test_hostile_files.py",
            "tests/contract/test_conformance.py::test_int96_timestamps_are_decoded_exactly_even_beyond_year_2262",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "pyarrow: imported without numpy" in done.stdout
    assert " passed" in done.stdout.splitlines()[-1]


def test_the_converter_lambda_loads_pyarrow_at_init_without_numpy() -> None:
    probe = (
        "import importlib.util, sys; import lambdas.converter.handler; "
        "numpy = sys.modules.get('numpy'); "
        "print(numpy is not None and not isinstance(numpy, importlib.util._LazyModule), sys.modules['pyarrow'].lib.np)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.split() == ["False", "None"]


def test_etl_convert_on_the_local_engine_never_imports_pydantic(tmp_path: Path) -> None:
    # pydantic validates options where requests arrive (the API, stored jobs); a conversion
    # needs only the dataclasses, and importing pydantic would add about a tenth of a second
    # to every run. (Only ``--report`` loads it, to write the report.)
    src, dest = tmp_path / "in.parquet", tmp_path / "out.jsonl"
    pq.write_table(pa.table({"a": [1, None, 3], "s": ["x", "y", None]}), src)
    argv = ["convert", "--engine", "local", "--drop-nulls", "--bigint-as-string", str(src), str(dest)]
    probe = textwrap.dedent(
        f"""
        import sys
        from etl_lib.cli import main
        assert main({argv!r}) == 0
        print(sorted(name for name in sys.modules if name.split(".")[0] in ("pydantic", "pydantic_core")))
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stdout
    assert dest.read_text().splitlines() == ['{"a":1,"s":"x"}', '{"s":"y"}', '{"a":3}']


def test_etl_convert_on_the_local_engine_imports_neither_logging_nor_an_executor_nor_the_other_commands(
    tmp_path: Path,
) -> None:
    src, dest = tmp_path / "in.parquet", tmp_path / "out.jsonl"
    pq.write_table(pa.table({"a": pa.array(range(5000))}), src, row_group_size=1000)  # five slices
    probe = textwrap.dedent(
        f"""
        import sys
        from etl_lib.cli import main
        assert main(["convert", "--engine", "local", {str(src)!r}, {str(dest)!r}]) == 0
        unwanted = ("logging", "concurrent.futures", "importlib.metadata", "etl_devstack")
        print(sorted(name for name in sys.modules if name in unwanted or name.startswith("etl_devstack.")))
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stdout
    assert dest.read_text().count("\n") == 5000


def test_a_record_below_warning_is_dropped_without_importing_logging_and_one_above_is_shown() -> None:
    probe = textwrap.dedent(
        """
        import sys
        from etl_lib._runtime.lazy import WARNING, log
        log("etl_lib.test", 20, "quiet %s", "info")
        print("logging" in sys.modules)
        log("etl_lib.test", WARNING, "loud %s", "warning")
        print("logging" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.split() == ["False", "True"]
    assert done.stderr == "loud warning\n"  # logging's last-resort handler, as logging.warning would


def test_the_levels_etl_lib_lazy_names_are_loggings_own() -> None:
    assert (DEBUG, INFO, WARNING) == (logging.DEBUG, logging.INFO, logging.WARNING)


def test_once_logging_is_configured_a_record_below_warning_goes_through_it(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="etl_lib.test"):
        log("etl_lib.test", logging.INFO, "%d rows", 3)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [("etl_lib.test", logging.INFO, "3 rows")]


def _pool_after(code: str, env: dict[str, str] | None = None) -> str:
    """The backend of Arrow's default pool (the one the Parquet reader allocates from) after
    ``code`` ran in a fresh interpreter, with no pool chosen in the environment but ``env``'s."""
    import os

    probe = f"{code}\nimport pyarrow as pa\nprint(pa.default_memory_pool().backend_name)"
    environ = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"} | (env or {})
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120, env=environ
    )
    return done.stdout.split()[-1]


def test_etl_convert_on_the_local_engine_reads_with_jemalloc(tmp_path: Path) -> None:
    src, dest = tmp_path / "in.parquet", tmp_path / "out.jsonl"
    pq.write_table(pa.table({"a": [1, 2]}), src)
    argv = ["convert", "--engine", "local", str(src), str(dest)]
    code = f"from etl_lib.cli import main\nassert main({argv!r}) == 0"
    assert _pool_after(code) == "jemalloc"
    assert dest.read_text() == '{"a":1}\n{"a":2}\n'


def test_the_converter_lambda_chooses_jemalloc_at_init() -> None:
    assert _pool_after("import lambdas.converter.handler") == "jemalloc"


def test_a_pool_the_operator_chose_is_kept() -> None:
    code = "from etl_lib._runtime.arrow_memory import use_jemalloc\nassert use_jemalloc()"
    assert _pool_after(code, {"ARROW_DEFAULT_MEMORY_POOL": "system"}) == "system"


def test_once_pyarrow_is_loaded_its_pool_stays_and_use_jemalloc_says_so() -> None:
    code = "import pyarrow\nfrom etl_lib._runtime.arrow_memory import use_jemalloc\nassert use_jemalloc() is False"
    assert _pool_after(code) == "mimalloc"


def test_imports_run_without_the_collector_and_what_they_made_is_frozen_after() -> None:
    import gc

    from etl_lib._runtime.lazy import collector_paused

    assert gc.isenabled()
    before = gc.get_freeze_count()
    try:
        with collector_paused():
            assert not gc.isenabled()
            made: list[list[int]] = [[] for _ in range(100)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= before + len(made)
        gc.disable()
        with collector_paused():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()
        gc.unfreeze()


def test_etl_convert_imports_without_the_collector(tmp_path: Path) -> None:
    src, dest = tmp_path / "in.parquet", tmp_path / "out.jsonl"
    pq.write_table(pa.table({"a": [1, 2]}), src)
    argv = ["convert", "--engine", "local", str(src), str(dest)]
    probe = textwrap.dedent(
        f"""
        import gc
        from etl_lib.cli import main
        frozen = gc.get_freeze_count()
        assert main({argv!r}) == 0
        print(gc.isenabled(), gc.get_freeze_count() - frozen > 10_000)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.split() == ["True", "True"]  # pyarrow's and etl_lib's objects were frozen
