"""The encoder's shortest-float digits (Schubfach) against the Ryu implementation it replaced.

Ryu was proven equal to Arrow's cast (the reference path) on millions of bit patterns by
test_native_encoder.py, which still compares the encoder with the reference; this compares
the two C algorithms directly, far faster, on many more patterns (shortest_check.c; run it
with stride 1 for every float32, and a large count for float64, after changing either).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
NATIVE = HERE.parents[2] / "etl_lib" / "contract" / "_native"


def _checker(tmp_path: Path) -> Path:
    compiler = shutil.which("gcc") or shutil.which("cc")
    assert compiler, "no C compiler: the native encoder is built with one"
    exe = tmp_path / "shortest_check"
    subprocess.run(
        [
            compiler,
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
            str(NATIVE),
            "-o",
            str(exe),
            str(HERE / "shortest_check.c"),
        ],
        check=True,
    )
    return exe


def _run(exe: Path, *args: str) -> str:
    done = subprocess.run([str(exe), *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_every_61st_float32_gets_the_digits_ryu_gives(tmp_path: Path) -> None:
    out = _run(_checker(tmp_path), "f32", "61")
    checked = int(out.split()[-4])
    assert checked > 0x7F800000 // 61 and out.strip().endswith("0 differ"), out


def test_random_and_hard_float64_patterns_get_the_digits_ryu_gives(tmp_path: Path) -> None:
    out = _run(_checker(tmp_path), "f64", "3000000", "20261201")
    checked = int(out.split()[-4])
    assert checked > 30_000_000 and out.strip().endswith("0 differ"), out


@pytest.mark.parametrize(
    ("table", "header"),
    [("schubfach", NATIVE / "shortest_tables.h"), ("ryu", HERE / "ryu_tables.h")],
)
def test_the_committed_tables_are_what_gen_tables_generates(table: str, header: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(NATIVE / "gen_tables.py"), table], capture_output=True, text=True, check=True
    )
    assert done.stdout == header.read_text(encoding="ascii")
