"""The one optimistic update loop: decide on the latest state, retry when another writer won."""

from __future__ import annotations

import pytest

from callpay.domain.errors import Conflict
from callpay.logic.optimistic import SAVE_ATTEMPTS, optimistic_update
from callpay.ports import VersionConflict


class Counter:
    """A versioned integer whose conditional save may lose to `rivals` other writers."""

    def __init__(self, rivals: int = 0) -> None:
        self.value, self.version, self.rivals, self.loads = 0, 0, rivals, 0

    def load(self) -> tuple[int, int]:
        self.loads += 1
        return self.value, self.version

    def save(self, change: tuple[int, int]) -> None:
        value, expected = change
        if self.rivals:  # another writer got in first
            self.rivals -= 1
            self.value, self.version = self.value + 100, self.version + 1
        if expected != self.version:
            raise VersionConflict("counter")
        self.value, self.version = value, self.version + 1


def add_one(state: tuple[int, int]) -> tuple[int, int]:
    return state[0] + 1, state[1]


def test_a_conflict_is_retried_on_the_fresh_state() -> None:
    counter = Counter(rivals=2)
    updated = optimistic_update(load=counter.load, decide=add_one, save=counter.save)
    assert counter.value == 201 and counter.version == 3  # both rivals kept, then ours
    assert updated.change == (201, 2) and counter.loads == 3


def test_nothing_to_write_returns_the_state_it_was_decided_on() -> None:
    counter = Counter()
    updated = optimistic_update(load=counter.load, decide=lambda _: None, save=counter.save)
    assert updated.state == (0, 0) and updated.change is None and counter.version == 0


def test_the_first_state_given_saves_a_read() -> None:
    counter = Counter()
    optimistic_update(load=counter.load, decide=add_one, save=counter.save, first=(0, 0))
    assert counter.loads == 0 and counter.value == 1


def test_endless_conflicts_end_in_a_409_and_no_write_of_ours() -> None:
    counter = Counter(rivals=SAVE_ATTEMPTS)
    with pytest.raises(Conflict) as refused:
        optimistic_update(load=counter.load, decide=add_one, save=counter.save)
    assert refused.value.code == "concurrent_update"
    assert counter.value == 100 * SAVE_ATTEMPTS  # only the rivals' writes
