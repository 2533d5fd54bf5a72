"""The one optimistic update: read the latest state, decide the change, save it on the
condition that nobody wrote in between, and start again when somebody did.

Payment requests (our API and Stripe's events), clinics (admins and Connect events) all
change this way; what differs between them is passed in: how to read, what to change,
how to save.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from callpay.domain.errors import Conflict
from callpay.ports import VersionConflict

SAVE_ATTEMPTS = 5

State = TypeVar("State")
Change = TypeVar("Change")


@dataclass(frozen=True, slots=True)
class Updated(Generic[State, Change]):
    state: State  # the latest state, on which the change was decided
    change: Change | None  # what was saved; None when there was nothing to write


def optimistic_update(
    *,
    load: Callable[[], State],
    # (`save` before `decide`: mypy infers `Change` from the first callable naming it.)
    save: Callable[[Change], None],
    decide: Callable[[State], Change | None],
    first: State | None = None,
    attempts: int = SAVE_ATTEMPTS,
) -> Updated[State, Change]:
    """Decide on the latest state and save the change, retrying on conflicts.

    `load` reads the latest state (and raises if there is none); `first`, when given, is
    used instead of a read on the first attempt. `save` is a conditional write that raises
    VersionConflict when the state changed since it was read; any other exception of
    `decide` or `save` ends the update as is. After `attempts` conflicts the caller is told
    to try again (409 `concurrent_update`).
    """
    state = first if first is not None else load()
    for attempt in range(attempts):
        if attempt:
            state = load()
        change = decide(state)
        if change is None:
            return Updated(state, None)
        try:
            save(change)
        except VersionConflict:
            continue
        return Updated(state, change)
    raise Conflict("concurrent_update", "This record is changing right now; try again.")
