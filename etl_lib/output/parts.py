"""Which bytes of the staged pieces make which part of the S3 upload that publishes them.

A pure function of the pieces' sizes and S3's limits (:func:`plan_parts`); the calls that
carry it out are :mod:`etl_lib.output.s3_publish`.

S3 concatenates objects server-side only as the parts of a multipart upload, within limits:
every part but the last holds at least 5 MiB, any part at most 5 GiB, an upload at most
10,000 parts and an object at most 5 TiB. A part is either copied from one byte range of one
stored object (``UploadPartCopy``) or uploaded from bytes the client sends (``UploadPart``).
The plan:

- A piece of at least ``min_part`` bytes is copied, never downloaded: whole, or in as few
  equal ranges (``CopySourceRange``) as keep each within ``max_part`` (a 6 GiB piece: two
  ranges of 3 GiB).
- A piece smaller than ``min_part`` cannot be a part of its own unless it is the last, and
  S3 has no server-side way to join small objects: small pieces are downloaded and uploaded
  again, gathered in order with their neighbours until the part holds ``min_part``. A large
  piece that follows such a run lends it its first bytes (a ranged GET) and the rest of it is
  copied. Each gathered part is under ``2 * min_part`` (10 MiB), so the bytes that pass
  through the publishing process are the small pieces' plus under 5 MiB per gathered part.
- More than ``max_parts`` parts (10,001 pieces of 64 MiB, say): neighbouring parts are
  merged, in order from the first, into intermediate objects, each its own multipart upload
  of up to ``max_parts`` of those parts; the final upload copies each intermediate in ranges
  of at most ``max_part``. Only as many parts are merged as it takes to get within the limit.
  A merged byte is copied twice, inside S3; merging by downloading the neighbours instead
  would pass their bytes through the one process that publishes (hundreds of GB at 10,000
  pieces of Spark slices) for no gain.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

MIB = 1024**2
GIB = 1024**3
TIB = 1024**4


@dataclass(frozen=True)
class PartLimits:
    """The limits of a multipart upload: S3's by default (:data:`S3_LIMITS`)."""

    min_part: int = 5 * MIB
    """The smallest size of every part but the last."""
    max_part: int = 5 * GIB
    """The largest part (and the largest range one ``UploadPartCopy`` copies)."""
    max_parts: int = 10_000
    """The most parts of one upload."""
    max_object: int = 5 * TIB
    """The largest object."""

    def __post_init__(self) -> None:
        # A piece split in equal ranges of at most max_part keeps each at least min_part only
        # when max_part >= 2 * min_part; S3's limits are 1024 times that.
        if not 0 < 2 * self.min_part <= self.max_part or self.max_parts < 2:
            raise ValueError(f"inconsistent part limits: {self}")


S3_LIMITS = PartLimits()


@dataclass(frozen=True)
class Segment:
    """Bytes ``[start, end)`` of object ``source``: a piece (``0 .. n-1``, in output order)
    or an intermediate object (``n + i`` is :attr:`PublishPlan.merged` ``[i]``)."""

    source: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Part:
    """One part: its segments, concatenated. One segment of a stored object is copied
    server-side; several are downloaded and uploaded together."""

    segments: tuple[Segment, ...]

    @property
    def size(self) -> int:
        return sum(s.size for s in self.segments)


@dataclass(frozen=True)
class Upload:
    """One multipart upload: its parts in order (part number ``k + 1`` is ``parts[k]``)."""

    parts: tuple[Part, ...]

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)


@dataclass(frozen=True)
class PublishPlan:
    """The uploads that publish pieces of ``sizes``: the intermediate objects ``merged``
    (each completed before the final upload copies from it), then ``final``."""

    sizes: tuple[int, ...]
    merged: tuple[Upload, ...]
    final: Upload

    @property
    def total(self) -> int:
        return sum(self.sizes)


def _ranges(source: int, start: int, end: int, max_part: int) -> list[Part]:
    """``[start, end)`` of ``source`` as the fewest equal copy parts of at most ``max_part``."""
    size = end - start
    count = -(-size // max_part)
    bounds = [start + size * k // count for k in range(count + 1)]
    return [Part((Segment(source, a, b),)) for a, b in itertools.pairwise(bounds)]


def _direct_parts(sizes: Sequence[int], limits: PartLimits) -> list[Part]:
    """The parts of one upload of the pieces, with no limit on their number."""
    parts: list[Part] = []
    gathered: list[Segment] = []  # small pieces (and a head) waiting to reach min_part
    held = 0
    for source, size in enumerate(sizes):
        if size == 0:
            continue
        if size >= limits.min_part:
            need = limits.min_part - held
            if not gathered:
                parts += _ranges(source, 0, size, limits.max_part)
                continue
            if size - need >= limits.min_part:
                # The gathered run borrows this piece's head; its rest is still copied.
                parts.append(Part((*gathered, Segment(source, 0, need))))
                gathered, held = [], 0
                parts += _ranges(source, need, size, limits.max_part)
                continue
        # A small piece, or a large one whose rest would be too small to copy: gathered whole,
        # which keeps every gathered part under 2 * min_part.
        gathered.append(Segment(source, 0, size))
        held += size
        if held >= limits.min_part:
            parts.append(Part(tuple(gathered)))
            gathered, held = [], 0
    if gathered:
        parts.append(Part(tuple(gathered)))  # the last part: any size will do
    return parts


def _group_end(parts: Sequence[Part], start: int, excess: int, limits: PartLimits) -> tuple[int, int]:
    """The end of the shortest run of parts from ``start`` that, merged into one object,
    saves ``excess`` parts (or the longest allowed run), and the parts it saves."""
    held = saved = 0
    end = start
    for end in range(start, min(len(parts), start + limits.max_parts)):
        held += parts[end].size
        # Its parts, minus the ranges the final upload copies it in.
        saved = (end + 1 - start) - (-(-held // limits.max_part))
        if saved >= excess:
            break
    return end + 1, saved


def plan_parts(sizes: Sequence[int], limits: PartLimits = S3_LIMITS) -> PublishPlan:
    """The uploads that concatenate pieces of ``sizes`` bytes (in order) into one object.

    Every upload of the plan has at most ``limits.max_parts`` parts, each but its last
    within ``[limits.min_part, limits.max_part]``; the final object holds every byte of the
    pieces once, in order. Raises :class:`ValueError` when no such plan exists: a negative
    size, or more than ``limits.max_object`` bytes in all.
    """
    if any(size < 0 for size in sizes):
        raise ValueError("a piece cannot have a negative size")
    total = sum(sizes)
    if total > limits.max_object:
        raise ValueError(f"the output would be {total:,} bytes; an S3 object holds at most {limits.max_object:,} bytes")
    parts = _direct_parts(sizes, limits)
    merged: list[Upload] = []
    final: list[Part] = []
    start, excess = 0, len(parts) - limits.max_parts
    while excess > 0:
        end, saved = _group_end(parts, start, excess, limits)
        if saved <= 0:  # only for limits far below S3's: every run left is too large to merge
            raise ValueError(f"{len(sizes):,} pieces cannot be published within {limits.max_parts:,} parts")
        group = Upload(tuple(parts[start:end]))
        final += _ranges(len(sizes) + len(merged), 0, group.size, limits.max_part)
        merged.append(group)
        start, excess = end, excess - saved
    final += parts[start:]
    return PublishPlan(tuple(sizes), tuple(merged), Upload(tuple(final)))
