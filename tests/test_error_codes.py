"""Every error code the code can emit is a member of the one catalogue, ``ErrorCode``; every
member is emitted somewhere (or documented as reserved); the docs list the same codes.

The code is read, not run: the AST of every Python file of the shipped and developer code is
walked for the places a code is written (``code=``, the error-answer helpers' code argument,
a class's ``code`` attribute, an ``{"error": {"code": ...}}`` body) and any string literal
there fails, with its file and line, even when it equals a member's value: a code is written
in one place.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from etl_lib import errors
from etl_lib.errors import ERROR_CODES, RESERVED, ErrorCode, GlueErrorCode, S3ErrorCode, Surface, codes_on

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("etl_lib", "lambdas", "devstack", "glue_jobs")
CATALOGUE = "etl_lib/errors.py"
# Being split in another branch while the catalogue lands: the lead moves their literals to
# ErrorCode after merging both. Until then their literals are listed by an expected failure,
# which turns into a failure of its own (strict) once they are gone: then empty this set.

# The helpers that answer an error, and the position of their code argument.
CODE_ARGUMENT = {"error": 1, "_error": 1, "UploadRefused": 1, "GlueApiError": 0, "BoundExceeded": 0}
# The catalogue, and the codes AWS names that the local stand-ins answer with and the AWS
# adapter reads: each written once, in etl_lib/errors.py.
ENUMS: dict[str, type[StrEnum]] = {"ErrorCode": ErrorCode, "S3ErrorCode": S3ErrorCode, "GlueErrorCode": GlueErrorCode}
MEMBER_VALUES = {code.value: code for code in ErrorCode}
ANY_VALUE = {member.value: f"{name}.{member.name}" for name, enum in ENUMS.items() for member in enum}


@dataclass(frozen=True)
class Literal:
    """A string literal written where a code goes (or equal to a code, anywhere)."""

    path: str
    line: int
    text: str
    where: str

    def __str__(self) -> str:
        member = ANY_VALUE.get(self.text)
        fix = f"use {member}" if member else "add it to ErrorCode (etl_lib/errors.py) and use the member"
        return f"{self.path}:{self.line}: {self.text!r} {self.where}: {fix}"


@cache
def sources() -> dict[str, ast.Module]:
    """Every scanned Python file's AST, by its path from the repository's root."""
    found = {}
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            found[rel] = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    return found


def _string_literals(node: ast.expr) -> Iterator[ast.expr]:
    """The literals an expression evaluates to: itself, or the branches of a conditional."""
    if (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(node, ast.JoinedStr):
        yield node
    elif isinstance(node, ast.IfExp):
        yield from _string_literals(node.body)
        yield from _string_literals(node.orelse)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from _string_literals(value)


def _text(node: ast.expr) -> str:
    return str(node.value) if isinstance(node, ast.Constant) else ast.unparse(node)


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _code_attribute(statement: ast.stmt) -> ast.expr | None:
    """The value of a class body's ``code = ...`` or ``code: T = ...``."""
    if isinstance(statement, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "code" for t in statement.targets):
        return statement.value
    if (
        isinstance(statement, ast.AnnAssign)
        and isinstance(statement.target, ast.Name)
        and statement.target.id == "code"
    ):
        return statement.value
    return None


def _code_positions(tree: ast.Module) -> Iterator[tuple[ast.expr, str]]:
    """Every expression written where an error code goes, with what that place is."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "code":
                    yield keyword.value, f"as code= of {_callee(node)}()"
            index = CODE_ARGUMENT.get(_callee(node))
            if index is not None and len(node.args) > index:
                yield node.args[index], f"as the code argument of {_callee(node)}()"
        elif isinstance(node, ast.ClassDef):
            for statement in node.body:
                value = _code_attribute(statement)
                if value is not None:
                    yield value, f"as class {node.name}'s code"
        elif isinstance(node, ast.Dict):
            for key, item in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code":
                    yield item, 'as an answer\'s "code"'


def literals_in(path: str, tree: ast.Module) -> list[Literal]:
    """The code literals of one file: in a code position, equal to a code, or a JSON body."""
    found: dict[tuple[int, str], Literal] = {}
    for expression, where in _code_positions(tree):
        for node in _string_literals(expression):
            found[node.lineno, _text(node)] = Literal(path, node.lineno, _text(node), where)
    if path != CATALOGUE:
        for constant in ast.walk(tree):
            if not isinstance(constant, ast.Constant):
                continue
            line, value = constant.lineno, constant.value
            if isinstance(value, str) and value in ANY_VALUE:
                found.setdefault((line, value), Literal(path, line, value, "equals a code"))
            elif isinstance(value, bytes) and (body := re.search(rb'"code":\s*"([^"]*)"', value)):
                text = body.group(1).decode()
                found.setdefault((line, text), Literal(path, line, text, "in a bytes body"))
    return sorted(found.values(), key=lambda literal: literal.line)


def _report(literals: list[Literal]) -> str:
    return "\n".join(str(literal) for literal in literals)


def test_no_code_is_written_as_a_literal_outside_the_catalogue() -> None:
    literals = [literal for path, tree in sources().items() for literal in literals_in(path, tree)]
    assert not literals, "error codes written as literals:\n" + _report(literals)


def test_the_scan_finds_literals_where_codes_are_written() -> None:
    # The scan itself is held: each kind of place a code is written, written with a literal.
    tree = ast.parse(
        "class Refused(JobServiceError):\n"
        "    code = 'NEW_CODE'\n"
        "raise JobNotFoundError('gone', code='REPORT_MISSING')\n"
        "answer = error(404, 'NO_ROUTE', 'no route')\n"
        "raise GlueApiError(f'{kind}Exception', 'no session')\n"
        "body = {'error': {'code': 'BUSY' if busy else ErrorCode.NOT_FOUND, 'message': ''}}\n"
        'READY = b\'{"error": {"code": "SERVER_BUSY"}}\'\n'
        "reason = 'INTERNAL_ERROR'\n"
        "fine = error(500, ErrorCode.INTERNAL_ERROR, exc.code or errors.ErrorCode.RUN_LOST)\n"
    )
    found = [(literal.line, literal.text) for literal in literals_in("example.py", tree)]
    assert found == [
        (2, "NEW_CODE"),
        (3, "REPORT_MISSING"),
        (4, "NO_ROUTE"),
        (5, "f'{kind}Exception'"),
        (6, "BUSY"),
        (7, "SERVER_BUSY"),
        (8, "INTERNAL_ERROR"),
    ]
    assert str(literals_in("x.py", tree)[1]) == (
        "x.py:3: 'REPORT_MISSING' as code= of JobNotFoundError(): use ErrorCode.REPORT_MISSING"
    )


def test_every_member_named_in_the_code_exists() -> None:
    # An attribute of ErrorCode that is not a member fails only when its line runs; this finds it now.
    missing = [
        f"{path}:{node.lineno}: {node.value.id}.{node.attr}"
        for path, tree in sources().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in ENUMS
        and node.attr not in ENUMS[node.value.id].__members__
        and not node.attr.startswith("_")
    ]
    assert not missing, "\n".join(missing)


def _called_names(tree: ast.Module) -> set[str]:
    """Names called, or whose attribute is called (``InvalidUtf8Error.at(...)``)."""
    called = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                func = func.value
            if isinstance(func, ast.Name):
                called.add(func.id)
    return called


def _catalogue_class_codes(tree: ast.Module) -> dict[str, ErrorCode]:
    """Each exception class of the catalogue's module and the code it declares."""
    codes = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for statement in node.body:
                value = statement.value if isinstance(statement, ast.Assign | ast.AnnAssign) else None
                if (
                    isinstance(value, ast.Attribute)
                    and isinstance(value.value, ast.Name)
                    and value.value.id == "ErrorCode"
                ):
                    codes[node.name] = ErrorCode[value.attr]
    return codes


def _names_the_catalogue(node: ast.expr) -> bool:
    """``ErrorCode`` or ``errors.ErrorCode``."""
    return (isinstance(node, ast.Name) and node.id == "ErrorCode") or (
        isinstance(node, ast.Attribute) and node.attr == "ErrorCode"
    )


def emitted_codes() -> set[ErrorCode]:
    """The members some code path emits: named outside the catalogue's table (``ErrorCode.X``
    or ``errors.ErrorCode.X``), or declared by an exception class that is raised."""
    emitted: set[ErrorCode] = set()
    called: set[str] = set()
    for path, tree in sources().items():
        called |= _called_names(tree)
        skipped: set[int] = set()
        if path == CATALOGUE:
            # The table describes codes and the class attributes declare them: neither emits.
            for top in tree.body:
                target = top.target if isinstance(top, ast.AnnAssign) else None
                if isinstance(top, ast.ClassDef) or (isinstance(target, ast.Name) and target.id == "ERROR_CODES"):
                    skipped |= {id(inner) for inner in ast.walk(top)}
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Attribute) and _names_the_catalogue(node.value):
                emitted.add(ErrorCode[node.attr])
    class_codes = _catalogue_class_codes(sources()[CATALOGUE])
    emitted |= {code for name, code in class_codes.items() if name in called}
    return emitted


def test_every_code_of_the_catalogue_is_emitted_somewhere_unless_reserved() -> None:
    dead = sorted(set(ErrorCode) - RESERVED - emitted_codes())
    assert not dead, f"codes no code path emits (emit them, or describe them as reserved, Surface.NONE): {dead}"


def test_every_code_is_described_once_with_where_it_surfaces() -> None:
    assert list(ERROR_CODES) == list(ErrorCode)
    for code, info in ERROR_CODES.items():
        assert info.when and "\n" not in info.when, code
        assert code.name == code.value, "a member is named as its value"


def test_stored_and_answered_strings_are_the_members_values() -> None:
    # StrEnum members are their strings: what JSON, DynamoDB and the job records hold.
    import json

    from etl_lib.jobs.models import JobError

    error = JobError(code=ErrorCode.RUN_LOST, message="lost")
    assert json.loads(error.model_dump_json())["code"] == "RUN_LOST"
    assert error.model_dump()["code"] == "RUN_LOST"
    assert JobError.model_validate({"code": "RUN_LOST", "message": "lost"}).code == ErrorCode.RUN_LOST
    assert f"{ErrorCode.UPLOAD_CLOSED}" == "UPLOAD_CLOSED"


def test_a_run_that_ended_fails_its_job_with_the_code_named_after_the_state() -> None:
    for state in ("FAILED", "TIMEOUT", "STOPPED", "ERROR", "SUCCEEDED"):
        assert errors.run_ended_code(state) == f"RUN_{state}"


def test_the_openapi_enums_are_the_catalogue_codes_of_their_surface() -> None:
    import json

    schemas = json.loads((ROOT / "docs/openapi.json").read_text())["components"]["schemas"]
    assert schemas["ErrorDetail"]["properties"]["code"]["enum"] == codes_on(Surface.API)
    assert schemas["JobError"]["properties"]["code"]["enum"] == codes_on(Surface.CONVERSION | Surface.JOB)


CONTRACT = ROOT / "docs/json-contract.md"
TABLE_HEADER = "| code | meaning |"


def test_the_contract_lists_the_conversion_codes_as_the_catalogue_describes_them() -> None:
    # Both directions: every row is a catalogue code with its description, every conversion code has its row.
    lines = CONTRACT.read_text(encoding="utf-8").splitlines()
    start = lines.index(TABLE_HEADER) + 2
    rows = lines[start : lines.index("", start)]
    expected = [f"| `{code}` | {ERROR_CODES[code].when} |" for code in codes_on(Surface.CONVERSION)]
    assert rows == expected


STATUS_AND_CODE = re.compile(r"`?\b([1-5]\d\d)\s+`?([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`")


def test_codes_the_docs_give_with_a_status_are_in_the_catalogue() -> None:
    # "409 UPLOAD_CLOSED" in a doc: a code a client may meet, so one the catalogue describes.
    catalogue = set(codes_on(Surface.API | Surface.LOCAL_STORE))
    named = {}
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for match in STATUS_AND_CODE.finditer(doc.read_text(encoding="utf-8")):
            named[match.group(2)] = doc.name
    assert named, "the pattern finds the docs' codes"
    assert {code: doc for code, doc in named.items() if code not in catalogue} == {}
