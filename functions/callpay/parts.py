"""Parts a function builds once and reuses across invocations, and forgetting them all.

Every factory of a composition module (callpay.runtime, and each function's own
`composition.py`) is a `@part`: built on first use, then cached for as long as the
execution environment lives. `reset()` forgets every part built so far, whichever module
declared it, so a new factory needs no list kept in sync by hand (tests change the
environment between cases and reset).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import _lru_cache_wrapper, cache
from typing import ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")

_parts: list[_lru_cache_wrapper[object]] = []


def part(factory: Callable[P, T]) -> _lru_cache_wrapper[T]:
    cached = cache(factory)
    _parts.append(cached)
    return cached


def reset() -> None:
    """Forget every part built so far."""
    for cached in _parts:
        cached.cache_clear()
