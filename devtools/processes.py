"""The local stack's child processes: started in their own process group, always stopped.

Each server runs in a session of its own, so a Ctrl-C in the terminal reaches only the
parent, which then stops its children in order (SIGTERM to the whole group, SIGKILL if it
lingers). A child started with `exit_with_parent()` also ends when its parent dies, even
by SIGKILL, so nothing is ever left listening on a port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class TimedOut(AssertionError):
    """Something the stack, the demo or a test waited for did not happen in time.

    An AssertionError, so pytest reports a test that waited in vain as a failure."""


LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


def bypass_proxies_for_loopback(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """NO_PROXY and no_proxy with the loopback hosts added to what they already list.

    requests (boto3 through botocore, Stripe's client, PyJWT's JWKS fetch and whatever a
    child runs) honours HTTP(S)_PROXY unless the host is in NO_PROXY; a CI machine's
    proxy would otherwise receive the calls to the local servers."""
    listed = [
        host.strip()
        for name in ("NO_PROXY", "no_proxy")
        for host in environ.get(name, "").split(",")
        if host.strip()
    ]
    hosts = ",".join(dict.fromkeys([*listed, *LOOPBACK_HOSTS]))
    return {"NO_PROXY": hosts, "no_proxy": hosts}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def listening(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_until(
    predicate: Callable[[], T | None], timeout: float = 15.0, what: str = "condition"
) -> T:
    """The predicate's first truthy value, polled every 50 ms; TimedOut after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimedOut(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def exit_with_parent(poll_seconds: float = 0.5, grace_seconds: float = 5.0) -> None:
    """End this process soon after its parent is gone (the parent may die by SIGKILL,
    which it cannot clean up after). SIGTERM first, so the server shuts down as usual."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class ChildProcess:
    """One server of the stack, its output in a log file, in a process group of its own."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._env = env
        self._cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> ChildProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=self._cwd,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def exited(self) -> int | None:
        """The exit code if the process has ended, else None."""
        return self._process.poll() if self._process else None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_listening(self, port: int, host: str, timeout: float = 30.0) -> None:
        def ready() -> bool:
            code = self.exited()
            if code is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {code} while starting; "
                    f"the end of {self.log_path}:\n{self.log_tail()}"
                )
            return listening(port, host)

        wait_until(ready, timeout, f"{self.name} to listen on {host}:{port}")

    def stop(self, timeout: float = 5.0, group: bool = True) -> None:
        """SIGTERM to the child's process group (or, `group=False`, to the child alone, for
        one that stops its own children), then SIGKILL to the group if it is still there."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            # ProcessLookupError: it has just exited on its own, nothing is left to stop.
            with contextlib.suppress(ProcessLookupError):
                if group or sig == signal.SIGKILL:
                    os.killpg(process.pid, sig)
                else:
                    process.send_signal(sig)
            try:
                process.wait(timeout=timeout)
                return
            except subprocess.TimeoutExpired:
                continue
