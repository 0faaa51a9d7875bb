"""The plan of the S3 upload that publishes staged pieces (etl_lib.output.parts): every byte
once and in order, within S3's part limits, for the edge cases and for any sizes."""

from __future__ import annotations

import bisect
import contextlib
import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_lib.output.parts import GIB, MIB, S3_LIMITS, Part, PartLimits, PublishPlan, Segment, Upload, plan_parts


def _expand(plan: PublishPlan, segment: Segment) -> list[Segment]:
    """``segment`` as ranges of pieces: an intermediate object's range as its parts' pieces."""
    pieces = len(plan.sizes)
    if segment.source < pieces:
        return [segment]
    inner = [s for part in plan.merged[segment.source - pieces].parts for s in part.segments]
    offsets = list(itertools.accumulate((s.size for s in inner), initial=0))
    out: list[Segment] = []
    first = bisect.bisect_right(offsets, segment.start) - 1
    for index in range(first, len(inner)):
        offset, piece = offsets[index], inner[index]
        if offset >= segment.end:
            break
        lo, hi = max(segment.start, offset), min(segment.end, offset + piece.size)
        out += _expand(plan, Segment(piece.source, piece.start + lo - offset, piece.start + hi - offset))
    return out


def _coalesced(segments: Sequence[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for s in segments:
        if out and out[-1].source == s.source and out[-1].end == s.start:
            out[-1] = Segment(s.source, out[-1].start, s.end)
        else:
            out.append(s)
    return out


def _check_upload(upload: Upload, limits: PartLimits) -> None:
    assert 1 <= len(upload.parts) <= limits.max_parts
    for part in upload.parts[:-1]:
        assert limits.min_part <= part.size <= limits.max_part, part.size
    assert 0 < upload.parts[-1].size <= limits.max_part
    for part in upload.parts:
        assert all(s.size > 0 for s in part.segments)


def check(plan: PublishPlan, limits: PartLimits = S3_LIMITS) -> None:
    """The properties every plan holds."""
    pieces = len(plan.sizes)
    for index, merged in enumerate(plan.merged):
        _check_upload(merged, limits)
        # An intermediate object is built from pieces only, or from earlier intermediates.
        assert all(s.source < pieces + index for part in merged.parts for s in part.segments)
    if plan.total == 0:
        assert plan.final.parts == () and plan.merged == ()
        return
    _check_upload(plan.final, limits)
    flat = [piece for part in plan.final.parts for s in part.segments for piece in _expand(plan, s)]
    expected = [Segment(i, 0, size) for i, size in enumerate(plan.sizes) if size]
    assert _coalesced(flat) == expected  # every byte of every piece, once, in order
    for part in (p for u in (*plan.merged, plan.final) for p in u.parts):
        for s in part.segments:
            size = plan.sizes[s.source] if s.source < pieces else plan.merged[s.source - pieces].size
            assert 0 <= s.start < s.end <= size


def copies(upload: Upload) -> list[Part]:
    return [p for p in upload.parts if len(p.segments) == 1]


def test_no_piece_is_no_part() -> None:
    plan = plan_parts([])
    check(plan)
    assert plan.total == 0 and plan.final.parts == ()


def test_empty_pieces_make_no_part() -> None:
    plan = plan_parts([0, 0, 0])
    check(plan)
    assert plan.final.parts == ()


def test_one_small_piece_is_one_part() -> None:
    plan = plan_parts([1])
    check(plan)
    assert plan.final.parts == (Part((Segment(0, 0, 1),)),)


def test_one_large_piece_is_copied_whole() -> None:
    plan = plan_parts([64 * MIB])
    check(plan)
    assert plan.final.parts == (Part((Segment(0, 0, 64 * MIB),)),)


def test_a_piece_of_exactly_5_gib_is_one_copy_and_one_byte_more_is_two() -> None:
    assert len(plan_parts([5 * GIB]).final.parts) == 1
    plan = plan_parts([5 * GIB + 1])
    check(plan)
    assert [p.size for p in plan.final.parts] == [5 * GIB // 2, 5 * GIB // 2 + 1]


def test_a_6_gib_piece_is_copied_in_two_ranges_of_3_gib() -> None:
    plan = plan_parts([6 * GIB])
    check(plan)
    assert plan.final.parts == (Part((Segment(0, 0, 3 * GIB),)), Part((Segment(0, 3 * GIB, 6 * GIB),)))


def test_a_6_gib_piece_between_small_ones_lends_its_head_and_is_copied_in_ranges() -> None:
    plan = plan_parts([MIB, 6 * GIB, MIB])
    check(plan)
    head, *middle, last = plan.final.parts
    assert head.segments == (Segment(0, 0, MIB), Segment(1, 0, 4 * MIB))
    assert [len(p.segments) for p in middle] == [1, 1] and all(p.size <= 5 * GIB for p in middle)
    assert last.segments == (Segment(2, 0, MIB),)  # the last part may be small: copied as it is


def test_exactly_10000_pieces_of_5_mib_are_10000_copies_and_nothing_merged() -> None:
    plan = plan_parts([5 * MIB] * 10_000)
    check(plan)
    assert plan.merged == () and len(plan.final.parts) == 10_000
    assert len(copies(plan.final)) == 10_000


def test_10001_pieces_merge_two_neighbours_into_one_object() -> None:
    plan = plan_parts([6 * MIB] * 10_001)
    check(plan)
    assert len(plan.merged) == 1 and len(plan.merged[0].parts) == 2
    assert len(plan.final.parts) == 10_000


def test_20000_pieces_of_64_mib_stay_within_10000_parts_and_merge_only_what_they_must() -> None:
    plan = plan_parts([64 * MIB] * 20_000)
    check(plan)
    assert len(plan.final.parts) == 10_000
    merged_pieces = sum(len(u.parts) for u in plan.merged)
    assert [len(u.parts) for u in plan.merged] == [10_000, 127]
    assert merged_pieces < 10_200  # about half the pieces are copied straight into the output


def test_20000_tiny_pieces_are_gathered_into_a_few_parts_without_merging() -> None:
    plan = plan_parts([1024] * 20_000)
    check(plan)
    assert plan.merged == ()
    assert len(plan.final.parts) == 4  # 20,000 KiB in parts of 5 MiB


def test_many_tiny_pieces_make_parts_of_5_mib_and_under_10() -> None:
    plan = plan_parts([3 * MIB + 1] * 50)
    check(plan)
    assert all(5 * MIB <= p.size < 10 * MIB for p in plan.final.parts[:-1])


def test_a_large_piece_after_small_ones_lends_only_what_the_gathered_part_lacks() -> None:
    plan = plan_parts([3 * MIB, 20 * MIB])
    check(plan)
    assert plan.final.parts == (
        Part((Segment(0, 0, 3 * MIB), Segment(1, 0, 2 * MIB))),
        Part((Segment(1, 2 * MIB, 20 * MIB),)),
    )


def test_a_piece_just_over_5_mib_after_small_ones_is_gathered_whole() -> None:
    plan = plan_parts([MIB, 6 * MIB, 64 * MIB])
    check(plan)
    # Lending 4 MiB would leave 2 MiB to copy, too small for a part: the piece joins whole.
    assert plan.final.parts[0].segments == (Segment(0, 0, MIB), Segment(1, 0, 6 * MIB))
    assert plan.final.parts[1].segments == (Segment(2, 0, 64 * MIB),)


def test_a_mix_of_empty_small_exact_and_large_pieces() -> None:
    sizes = [0, 3 * MIB, 7 * MIB, 1024, 6 * MIB, 2, 5 * MIB, 0, 7 * MIB, 6 * GIB, 1]
    plan = plan_parts(sizes)
    check(plan)
    assert plan.merged == ()


def test_an_output_over_5_tib_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="an S3 object holds at most"):
        plan_parts([5 * GIB] * 1025)


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        plan_parts([1, -1])


def test_inconsistent_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="inconsistent part limits"):
        PartLimits(min_part=10, max_part=15)


def test_limits_no_merge_can_meet_are_refused() -> None:
    # Parts of max_part each cannot be merged into fewer ranges of max_part.
    with pytest.raises(ValueError, match="cannot be published within 2 parts"):
        plan_parts([20] * 3, PartLimits(min_part=10, max_part=20, max_parts=2))


# Sizes drawn around the limits that matter: empty, tiny, just under/at/over min_part,
# around max_part, and large.
SMALL_LIMITS = PartLimits(min_part=100, max_part=400, max_parts=20)
sizes_near_limits = st.one_of(
    st.integers(0, 5),
    st.integers(95, 105),
    st.integers(195, 205),
    st.integers(395, 405),
    st.integers(0, 1500),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(sizes_near_limits, max_size=80))
def test_any_sizes_plan_in_order_every_byte_once_within_small_limits(sizes: list[int]) -> None:
    # Merging every part, max_parts at a time, leaves at most T/M + ceil(m/L) ranges for T
    # bytes in m <= n + T/M parts: only when even that is over the limit may the plan be
    # refused (with S3's limits, T/M <= 1024 and the bound is far from 10,000).
    total, limit, most = sum(sizes), SMALL_LIMITS.max_parts, SMALL_LIMITS.max_part
    if total / most + -(-(len(sizes) + total // most + 1) // limit) > limit:
        with contextlib.suppress(ValueError):
            check(plan_parts(sizes, SMALL_LIMITS), SMALL_LIMITS)
        return
    check(plan_parts(sizes, SMALL_LIMITS), SMALL_LIMITS)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(st.integers(0, 6 * MIB), st.integers(5 * MIB - 2, 5 * MIB + 2), st.integers(5 * GIB - 2, 12 * GIB)),
        max_size=40,
    )
)
def test_any_sizes_plan_within_s3_limits(sizes: list[int]) -> None:
    check(plan_parts(sizes))


@settings(max_examples=20, deadline=None)
@given(st.integers(10_001, 25_000), st.sampled_from([1024, 5 * MIB, 6 * MIB, 64 * MIB, 200 * MIB]))
def test_more_than_10000_pieces_always_fit_in_10000_parts(count: int, size: int) -> None:
    check(plan_parts([size] * count))
