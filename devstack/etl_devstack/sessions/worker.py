"""One Glue interactive session: a Python process that runs statements as Glue does.

Started by :mod:`etl_devstack.sessions.manager` as a *script* (``python worker.py SESSION_DIR``),
not as ``-m etl_lib...``: importing the project package before the session's
``--additional-python-modules`` / ``--extra-py-files`` are on ``sys.path`` would pin the
environment's ``etl_lib`` and a session could never run the wheel it was given. So this
file uses the standard library only until the session is provisioned.

Protocol (JSON lines): the session directory holds ``session.json`` (the CreateSession
request). The process answers on the file descriptor that was its stdout (fd 1 is then
pointed at stderr, so JVM and native output cannot corrupt the protocol):

- ``{"event": "ready"}`` or ``{"event": "failed", "message": "..."}`` once provisioned;
- for each ``{"id": N, "code": "..."}`` read from stdin, ``{"id": N, "state": S, "output": {...}}``
  with S ``AVAILABLE`` or ``CANCELLED`` and ``output`` in Glue's ``StatementOutput`` shape.

Statements run like Glue's (Livy) Python REPL: in one namespace that predefines ``spark``,
``sc`` and ``glueContext``; what they print and the ``repr`` of a final expression is
``Data.TextPlain`` with ``Status: ok``; an exception is ``Status: error`` with ``ErrorName``,
``ErrorValue`` and ``Traceback``. SIGINT (CancelStatement) interrupts the running statement.

The unchanged kernel shows a failed statement as one line, ``ErrorName: ErrorValue``, and
nothing else (the traceback goes into the execute reply, which no front end nor papermill
displays). So ``ErrorValue`` here is the exception's message followed by what the
statement printed before it failed and the traceback: the cell keeps its output and shows
where it failed. A last line ``%matplot NAME`` (Livy's magic, as Glue's help describes it)
renders ``NAME.gcf()`` as PNG: ``Data`` is then ``{"MimeType": "image/png", "Result":
<base64>, "StdOut": <printed text>}``, the inline shape the kernel's ``display_result``
publishes as ``image/png``.

Spark (started on first use) serves its UI on a free port of 127.0.0.1; its address is
written to the session log (``session.log`` in the session's folder) as ``Spark UI: URL``.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import traceback
import zipfile
from pathlib import Path
from typing import Any

_running = False


def _interrupt(signum: int, frame: Any) -> None:
    if _running:  # between statements a cancel has nothing to stop
        raise KeyboardInterrupt


def _split(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _fetch(uri: str, folder: Path) -> Path:
    """A local copy of an ``s3://`` object (boto3: honours AWS_ENDPOINT_URL); paths as they are."""
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    if not uri.startswith("s3://"):
        path = Path(uri).expanduser().resolve()
        if not path.exists():
            raise FileNotFoundError(f"{uri} does not exist")
        return path
    import boto3  # only sessions given s3:// files need it

    bucket, _, key = uri[len("s3://") :].partition("/")
    target = folder / Path(key).name
    folder.mkdir(parents=True, exist_ok=True)
    boto3.client("s3").download_file(bucket, key, str(target))
    return target


def _installed(requirement: str) -> bool:
    """True when a ``name==version`` (or bare name) requirement is already satisfied here."""
    from importlib import metadata

    name, _, version = requirement.partition("==")
    try:
        have = metadata.version(name.strip())
    except metadata.PackageNotFoundError:
        return False
    return not version or have == version.strip()


def _install_modules(modules: list[str], session_dir: Path) -> list[str]:
    """``--additional-python-modules``: wheels (path or s3://) and requirements, installed with
    pip into the session's own site directory (Glue pip-installs them on the session)."""
    site = session_dir / "site"
    wanted: list[str] = []
    for module in modules:
        if module.endswith(".whl") or "/" in module:
            wanted.append(str(_fetch(module, session_dir / "downloads")))
        elif not _installed(module):
            wanted.append(module)
    if wanted:
        # --no-deps: the environment already has the project's dependencies; offline, pip could
        # not fetch them anyway. A requirement that is not installed needs an index.
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), *wanted]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pip could not install {', '.join(wanted)}: {done.stderr.strip()[-2000:]}")
    return [str(site)] if wanted else []


def _extra_py_files(files: list[str], session_dir: Path) -> list[str]:
    """``--extra-py-files``: .py, .zip and .whl files (path or s3://) go on the Python path."""
    paths: list[str] = []
    for uri in files:
        local = _fetch(uri, session_dir / "py-files")
        if local.suffix == ".py" or local.is_dir():
            paths.append(str(local.parent if local.is_file() else local))
        elif zipfile.is_zipfile(local):
            paths.append(str(local))
        else:
            raise ValueError(f"--extra-py-files takes .py, .zip or .whl files, not {uri}")
    return paths


def provision(request: dict[str, Any], session_dir: Path) -> dict[str, Any]:
    """Put the session's modules first on the path (also for Spark's Python workers) and
    return the namespace statements run in."""
    arguments = request.get("DefaultArguments") or {}
    paths = _install_modules(_split(arguments.get("--additional-python-modules")), session_dir)
    paths += _extra_py_files(_split(arguments.get("--extra-py-files")), session_dir)
    sys.path[:0] = paths
    if paths:  # executors' Python workers inherit the driver's environment
        os.environ["PYTHONPATH"] = os.pathsep.join([*paths, *_split(os.environ.get("PYTHONPATH", ""))])
    os.environ.setdefault("MPLBACKEND", "Agg")

    from etl_lib.notebook.glue_local import Lazy, LocalGlueContext, spark_factory

    def started(session: Any) -> None:
        print(f"Spark UI: {session.sparkContext.uiWebUrl}", file=sys.__stderr__, flush=True)

    build = spark_factory(f"glue-session-{request['Id']}", ui=True, on_start=started, s3_mirror=session_dir / "s3")
    spark = Lazy(build, "local SparkSession")
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    namespace.update(spark=spark, sc=Lazy(lambda: spark.sparkContext, "local SparkContext"))
    namespace["glueContext"] = LocalGlueContext(spark)
    return namespace


def _user_traceback(exc: BaseException) -> list[str]:
    """The traceback lines of the statement's own frames (this runner's are left out)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return traceback.format_exception(type(exc), exc, tb)


_MATPLOT = re.compile(r"^%matplot\s+([A-Za-z_]\w*)\s*$")


def _split_matplot(code: str) -> tuple[str, str | None]:
    """The statement without a last ``%matplot NAME`` line, and NAME."""
    lines = code.rstrip().splitlines()
    match = _MATPLOT.match(lines[-1].strip()) if lines else None
    return ("\n".join(lines[:-1]), match.group(1)) if match else (code, None)


def _png(namespace: dict[str, Any], name: str) -> str:
    """``NAME.gcf()`` as base64 PNG (Livy's ``%matplot``), then closed."""
    if name not in namespace:
        raise NameError(f"name '{name}' is not defined")
    figure = namespace[name].gcf()
    data = io.BytesIO()
    figure.savefig(data, format="png")
    namespace[name].close(figure)
    return base64.b64encode(data.getvalue()).decode("ascii")


def _error_value(exc: BaseException, printed: str) -> str:
    """The message, then the statement's printed output and traceback (see the module's doc)."""
    parts = [str(exc), printed.rstrip("\n"), "".join(_user_traceback(exc)).rstrip("\n")]
    return "\n".join(part for part in parts if part)


def run_statement(code: str, namespace: dict[str, Any], count: int) -> tuple[str, dict[str, Any]]:
    """Execute one statement; (state, StatementOutput)."""
    global _running
    captured = io.StringIO()
    image = None
    try:
        code, plot = _split_matplot(code)
        tree = ast.parse(code, "<stdin>", "exec")
        last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        if last is not None:
            tree.body.pop()
        _running = True
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            exec(compile(tree, "<stdin>", "exec"), namespace)
            if last is not None:
                value = eval(compile(ast.Expression(last.value), "<stdin>", "eval"), namespace)
                if value is not None:
                    print(repr(value))
            if plot is not None:
                image = _png(namespace, plot)
    except KeyboardInterrupt:
        return "CANCELLED", {"ExecutionCount": count, "Status": "error", "ErrorName": "KeyboardInterrupt",
                             "ErrorValue": "the statement was cancelled", "Traceback": []}  # fmt: skip
    except BaseException as exc:
        return "AVAILABLE", {
            "ExecutionCount": count,
            "Status": "error",
            "ErrorName": type(exc).__name__,
            "ErrorValue": _error_value(exc, captured.getvalue()),
            "Traceback": _user_traceback(exc),
        }
    finally:
        _running = False
    if image is not None:
        data = {"MimeType": "image/png", "Result": image, "StdOut": captured.getvalue()}
        return "AVAILABLE", {"ExecutionCount": count, "Status": "ok", "Data": data}
    return "AVAILABLE", {"ExecutionCount": count, "Status": "ok", "Data": {"TextPlain": captured.getvalue()}}


def main(argv: list[str]) -> int:
    session_dir = Path(argv[1])
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), encoding="utf-8", write_through=True)
    signal.signal(signal.SIGINT, _interrupt)

    def answer(message: dict[str, Any]) -> None:
        answers.write(json.dumps(message) + "\n")

    request = json.loads((session_dir / "session.json").read_text(encoding="utf-8"))
    try:
        namespace = provision(request, session_dir)
    except Exception as exc:
        answer({"event": "failed", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    answer({"event": "ready"})
    for count, line in enumerate(sys.stdin, start=1):
        message = json.loads(line)
        state, output = run_statement(message["code"], namespace, count)
        answer({"id": message["id"], "state": state, "output": output})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
