"""Sections of docs/benchmarks.md that a benchmark can rewrite on its own.

``make bench`` generates the whole page; ``make bench-scale`` and ``make bench-big`` each
measure one section and must not throw away the rest. A section sits between two HTML
comments (invisible on the rendered page): this module writes one section in place, and
lets the full generator carry over the sections it did not measure this time.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

PAGE_TITLE = "# Benchmarks"
SCALE, BIG = "scale", "big"
"""The sections benchmarks of their own rewrite: bench/scale.py's and bench/big.py's."""
BEFORE = "\n## Machine\n"
"""A section new to a page goes before this heading (or at the end of a page without it)."""


def _begin(name: str) -> str:
    return f"<!-- section {name}: rewritten by its own benchmark, kept by the others -->"


def _end(name: str) -> str:
    return f"<!-- end of section {name} -->"


def wrap(name: str, lines: list[str]) -> list[str]:
    """``lines`` between the section's markers."""
    return [_begin(name), *lines, _end(name)]


def find(text: str, name: str) -> list[str] | None:
    """The section ``name`` of ``text`` (markers included), or None."""
    match = re.search(re.escape(_begin(name)) + r".*?" + re.escape(_end(name)), text, flags=re.DOTALL)
    return match.group(0).split("\n") if match else None


def _put(text: str, name: str, block: str) -> str:
    """``text`` with ``block`` as its section ``name``: in place of the old one, or new."""
    old = find(text, name)
    if old is not None:
        return text.replace("\n".join(old), block, 1)
    if BEFORE in text:
        return text.replace(BEFORE, f"\n{block}\n{BEFORE}", 1)
    return text.rstrip("\n") + "\n\n" + block + "\n"


def replace_section(doc: Path, name: str, lines: list[str]) -> None:
    """Write ``lines`` as the section ``name`` of ``doc`` (a new page if there is none)."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else PAGE_TITLE + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(_put(text, name, "\n".join(wrap(name, lines))), encoding="utf-8")


def carry_over(new: str, old: str, sections: dict[str, list[str] | None]) -> str:
    """The page ``new`` with each of ``sections``: its new lines, or (None: not measured this
    time) the section as the previous page ``old`` had it, if it had it."""
    for name, lines in sections.items():
        block = "\n".join(wrap(name, lines)) if lines is not None else "\n".join(find(old, name) or [])
        if block:
            new = _put(new, name, block)
    return new


def toward_failing(value: float, decimals: int, *, at_least: bool) -> float:
    """``value`` rounded to ``decimals`` toward failing its target (down for a lower bound, up
    for an upper one), so that a figure shown agrees with its verdict: 0.8499 against "≥ 0.85"
    shows as 0.84, not as a failing 0.85.

    Example::

        >>> toward_failing(0.8499, 2, at_least=True), toward_failing(0.5003, 2, at_least=False)
        (0.84, 0.51)
    """
    scale = 10**decimals
    # round() first: 0.86 * 100 is 86.00000000000001 in binary, which must stay 86.
    scaled = round(value * scale, 6)
    return (math.floor(scaled) if at_least else math.ceil(scaled)) / scale
