"""`callpay dev` as a child process, for the demo and the end-to-end tests.

It runs on free ports with a state directory of its own (so it never disturbs a
`make dev` that is already running), is ready once it has written local.json, and is
stopped with SIGTERM like Ctrl-C would. It ends with its parent even if the parent is
killed outright.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from devtools.endpoints import FILE_NAME, Endpoints
from devtools.paths import REPO_ROOT
from devtools.processes import ChildProcess
from devtools.stack import PROGRESS, StackFailed


class StackProcess:
    def __init__(
        self,
        state_dir: Path,
        on_progress: Callable[[str], None] = lambda line: None,
        timeout: float = 120.0,
        concurrency: int | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.log_path = state_dir / "stack.log"
        self._on_progress = on_progress
        self._timeout = timeout
        # Execution environments per function: as given, else the stack's own default.
        given = ["--concurrency", str(concurrency)] if concurrency else []
        self._child = ChildProcess(
            "callpay dev",
            [sys.executable, "-m", "devtools.cli", "dev", "--state-dir", str(state_dir),
             "--gateway-port", "0", "--stripe-port", "0", "--aws-port", "0",
             "--exit-with-parent", *given],
            self.log_path,
            cwd=REPO_ROOT,
        )  # fmt: skip

    def start(self) -> Endpoints:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / FILE_NAME).unlink(missing_ok=True)
        self._child.start()
        try:
            return self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        # SIGTERM to the stack alone: it stops its own servers, then SIGKILL if it hangs.
        self._child.stop(timeout=20, group=False)

    def log_tail(self, lines: int = 30) -> str:
        return self._child.log_tail(lines)

    def __enter__(self) -> Endpoints:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_ready(self) -> Endpoints:
        deadline = time.monotonic() + self._timeout
        shown = 0
        while time.monotonic() < deadline:
            lines = self._log_lines()
            for line in lines[shown:]:
                if line.startswith(PROGRESS):
                    self._on_progress(line[len(PROGRESS) :])
            shown = len(lines)
            code = self._child.exited()
            if code is not None:
                raise StackFailed(
                    f"the local stack exited with code {code} while starting; "
                    f"the end of {self.log_path}:\n{self.log_tail()}"
                )
            ready = self._endpoints()
            if ready is not None:
                return ready
            time.sleep(0.1)
        raise StackFailed(
            f"the local stack was not ready after {self._timeout:g}s; "
            f"the end of {self.log_path}:\n{self.log_tail()}"
        )

    def _log_lines(self) -> list[str]:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return []
        # The last line may still be being written: only whole lines.
        return text.split("\n")[:-1]

    def _endpoints(self) -> Endpoints | None:
        if not (self.state_dir / FILE_NAME).exists():
            return None
        endpoints = Endpoints.load(self.state_dir)
        return endpoints if endpoints.pid == self._child.pid else None
