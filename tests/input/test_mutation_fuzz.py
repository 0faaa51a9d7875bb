"""Damaged real files: every one converts or is refused in one line, never worse.

A fixed-seed mutation fuzzer over the conformance corpus: bytes flipped in pages and in the
footer, truncations, overwritten ranges, a lying footer length. All run in one child process
(a crash there must not take pytest with it), which says which file it starts before each
conversion, so a signal, a hang or a traceback names the file that caused it. A conversion
that succeeds must leave valid JSON Lines with the file's rows; one that is refused must leave
nothing at its destination and a one-line message with a stable code.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import corpus_files, needs_corpus

pytestmark = needs_corpus()
SEED = 20261205
FILES = 400
# The codes a conversion may end with: those the contract documents.
CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "json-contract.md"
DOCUMENTED_CODES = frozenset(re.findall(r"^\| `([A-Z_0-9]+)` \|", CONTRACT.read_text(encoding="utf-8"), re.M))
MUTATIONS = ("flip bytes", "flip footer bytes", "truncate", "overwrite range", "footer length", "duplicate range")
# The child: one conversion after another, announcing each; only ConversionError is expected.
RUNNER = """
import json, sys
from etl_lib.conversion import convert
from etl_lib.errors import ConversionError
from etl_lib.options import Limits
limits = Limits(max_run_seconds=60)
for line in sys.stdin:
    case = json.loads(line)
    print(json.dumps({"start": case["src"]}), flush=True)
    try:
        report = convert(case["src"], case["dest"], engine="local", limits=limits)
        outcome = {"outcome": "converted", "rows": report.rows_out}
    except ConversionError as exc:
        outcome = {"outcome": "refused", "code": exc.code, "message": exc.message}
    except BaseException as exc:
        outcome = {"outcome": "escaped", "type": type(exc).__name__, "message": str(exc)[:300]}
    print(json.dumps({"src": case["src"], **outcome}), flush=True)
"""


def _mutate(data: bytes, kind: str, rng: random.Random) -> bytes:
    out = bytearray(data)
    footer = int.from_bytes(data[-8:-4], "little") if len(data) >= 12 else 0
    footer_start = max(0, len(data) - 8 - min(footer, len(data) - 8))
    if kind == "flip bytes":
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    elif kind == "flip footer bytes":
        for _ in range(rng.randint(1, 4)):
            out[rng.randrange(footer_start, len(out) - 8)] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        del out[rng.randrange(len(out)) :]
    elif kind == "overwrite range":
        start = rng.randrange(len(out))
        out[start : start + rng.randint(1, 64)] = rng.randbytes(rng.randint(1, 64))
    elif kind == "footer length":
        out[-8:-4] = rng.randrange(2**32).to_bytes(4, "little")
    else:
        start = rng.randrange(len(out))
        chunk = out[start : start + rng.randint(1, 256)]
        at = rng.randrange(len(out))
        out[at:at] = chunk
    return bytes(out)


def _cases(folder: Path) -> list[dict[str, str]]:
    sources = [p for p in corpus_files("data") if p.stat().st_size < 4 * 1024**2]
    rng = random.Random(SEED)
    cases = []
    for index in range(FILES):
        source, kind = rng.choice(sources), MUTATIONS[index % len(MUTATIONS)]
        src = folder / f"{index:03d}-{kind.replace(' ', '-')}-{source.name}"
        src.write_bytes(_mutate(source.read_bytes(), kind, rng))
        cases.append({"src": str(src), "dest": str(folder / f"{index:03d}.jsonl")})
    return cases


def _check(result: dict[str, object], dest: Path) -> None:
    name = Path(str(result["src"])).name
    assert result["outcome"] != "escaped", f"{name}: {result['type']} escaped: {result['message']}"
    if result["outcome"] == "refused":
        assert not dest.exists(), f"{name}: refused, but left {dest.name}"
        assert str(result["message"]).isprintable(), f"{name}: a message of several lines or raw bytes"
        assert result["code"] in DOCUMENTED_CODES, f"{name}: code {result['code']} is not in the contract"
        return
    lines = dest.read_bytes().splitlines()
    assert len(lines) == result["rows"], f"{name}: {len(lines)} lines for {result['rows']} rows"
    for line in lines:
        json.loads(line)  # valid JSON, or the test fails naming nothing less than the file below


@pytest.mark.timeout(900)
def test_damaged_corpus_files_convert_or_are_refused_in_one_line(tmp_path: Path) -> None:
    cases = _cases(tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-c", RUNNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        stdout, stderr = child.communicate("".join(json.dumps(c) + "\n" for c in cases), timeout=600)
    except subprocess.TimeoutExpired:
        child.kill()
        stdout, stderr = child.communicate()
    messages = [json.loads(line) for line in stdout.splitlines()]
    started = [m["start"] for m in messages if "start" in m]
    results = [m for m in messages if "outcome" in m]
    if len(results) < len(cases):
        culprit = Path(started[-1]).name if started else "(none started)"
        raise AssertionError(
            f"the child ended with {child.returncode} (a signal if negative, or killed when it hung) "
            f"while converting {culprit} (seed {SEED}); stderr: {stderr[-1000:]}"
        )
    assert child.returncode == 0, stderr[-1000:]
    for case, result in zip(cases, results, strict=True):
        _check(result, Path(case["dest"]))
    assert "INVALID_PARQUET" in DOCUMENTED_CODES
    outcomes = {str(r["outcome"]) for r in results}
    assert outcomes == {"converted", "refused"}, f"the mutations no longer cover both ends: {outcomes}"
