"""``import etl_lib`` gives the public API, documented, without loading pyarrow until it is used."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
from importlib.metadata import version

import etl_lib
from etl_lib.conversion import convert


def test_every_public_name_is_the_object_its_module_defines() -> None:
    for name in etl_lib.__all__:
        if name == "__version__":
            continue
        module = importlib.import_module(etl_lib._EXPORTS[name])
        assert getattr(etl_lib, name) is getattr(module, name), name
    assert set(etl_lib.__all__) == {*etl_lib._EXPORTS, "__version__"}


def test_the_version_is_the_installed_distributions() -> None:
    assert etl_lib.__version__ == version("parquet-json-etl")


def test_etl_lib_convert_is_the_function_and_its_module_is_etl_lib_conversion() -> None:
    import etl_lib.conversion

    assert etl_lib.convert is convert
    assert etl_lib.conversion.convert is convert
    assert "etl_lib.convert" not in sys.modules  # no module shares the function's name


def test_importing_the_job_code_does_not_load_pyarrow() -> None:
    """The API Lambdas import etl_lib.jobs: the re-exports must not cost them pyarrow at cold start."""
    code = (
        "import sys, etl_lib, etl_lib.jobs.settings\n"
        "assert 'pyarrow' not in sys.modules, 'pyarrow was imported'\n"
        "assert callable(etl_lib.convert) and 'pyarrow' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_convert_documents_every_parameter_with_an_example() -> None:
    doc = inspect.getdoc(convert) or ""
    documented = re.findall(r"^(\w+) : ", doc.split("Parameters\n----------\n")[1].split("Returns\n")[0], re.M)
    assert documented == list(inspect.signature(convert).parameters)
    for section in ("Returns\n-------", "Raises\n------", "Examples\n--------\n>>> "):
        assert section in doc
