from __future__ import annotations

import pytest

from etl_lib.jobs import state
from etl_lib.jobs.models import JobStatus as S

LEGAL = {
    (S.PENDING, S.QUEUED),
    (S.PENDING, S.FAILED),
    (S.QUEUED, S.RUNNING),
    (S.QUEUED, S.FAILED),
    (S.RUNNING, S.SUCCEEDED),
    (S.RUNNING, S.FAILED),
}


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", list(S))
def test_only_forward_transitions_are_legal(source: S, target: S) -> None:
    assert state.can_transition(source, target) == ((source, target) in LEGAL)


def test_final_statuses_never_change() -> None:
    assert {S.SUCCEEDED, S.FAILED} == state.TERMINAL
    for final in state.TERMINAL:
        assert all(not state.can_transition(final, t) for t in S)


def test_a_job_can_fail_from_any_unfinished_status() -> None:
    assert state.allowed_sources(S.FAILED) == {S.PENDING, S.QUEUED, S.RUNNING}


def test_allowed_sources_are_the_write_conditions_of_each_target() -> None:
    assert state.allowed_sources(S.QUEUED) == {S.PENDING}
    assert state.allowed_sources(S.RUNNING) == {S.QUEUED}
    assert state.allowed_sources(S.SUCCEEDED) == {S.RUNNING}
    assert state.allowed_sources(S.PENDING) == frozenset()


def test_an_illegal_move_raises_with_both_statuses_named() -> None:
    with pytest.raises(state.IllegalTransitionError, match="SUCCEEDED to RUNNING"):
        state.check_transition(S.SUCCEEDED, S.RUNNING)
    state.check_transition(S.PENDING, S.QUEUED)
