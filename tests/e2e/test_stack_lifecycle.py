"""The local stack's own clean-up and environment, without starting its servers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from devtools import endpoints
from devtools.processes import bypass_proxies_for_loopback
from devtools.stack import LocalStack, StackOptions

pytestmark = pytest.mark.e2e


class StoppableChild:
    def __init__(self, name: str) -> None:
        self.name = name
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


class HangingGateway:
    def stop(self) -> None:
        raise TimeoutError("the gateway did not shut down in time")


def test_a_failing_clean_up_step_still_stops_the_servers_and_removes_local_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = LocalStack(StackOptions(state_dir=tmp_path), say=lambda line: None)
    (tmp_path / endpoints.FILE_NAME).write_text(f'{{"pid": {os.getpid()}}}')
    children = [StoppableChild("moto"), StoppableChild("localstripe")]
    fake: Any = stack
    fake._gateway = HangingGateway()
    fake._children = children

    stack.stop()

    assert all(child.stopped for child in children)
    assert not (tmp_path / endpoints.FILE_NAME).exists()
    assert "stopping gateway failed" in capsys.readouterr().err


def test_loopback_is_added_to_no_proxy_keeping_what_was_listed() -> None:
    variables = bypass_proxies_for_loopback({"NO_PROXY": "corp.example, 127.0.0.1"})
    assert variables["NO_PROXY"] == variables["no_proxy"] == "corp.example,127.0.0.1,localhost"


def test_ports_picked_for_zero_are_never_the_same_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The system may hand out a port it just freed again: the gateway and localstripe
    were once both given one, and the gateway could not bind it."""
    handed_out = iter([41001, 41001, 41001, 41002])
    monkeypatch.setattr("devtools.stack.free_port", lambda host: next(handed_out))
    stack: Any = LocalStack(StackOptions(state_dir=tmp_path), say=lambda line: None)
    assert [stack._port_for("gateway", 0), stack._port_for("stripe", 0)] == [41001, 41002]
