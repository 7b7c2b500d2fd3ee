"""Fixtures: real `subwire listen` processes on 127.0.0.1, each in its own home and process group."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "clients" / "python"))
NODE = str(ROOT / "node_modules" / "node" / "bin" / "node") if (ROOT / "node_modules" / "node" / "bin" / "node").exists() else "node"
BIN = str(ROOT / "packages" / "peer-node" / "bin" / "subwire.js")


def cli(home: Path, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs `subwire --home HOME ARGS` to completion."""
    r = subprocess.run([NODE, BIN, "--home", str(home), *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"subwire {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return r


class Listener:
    """A running `subwire listen --json` and the lines it printed."""

    def __init__(self, home: Path, uri: str, extra: list[str]) -> None:
        self.home = home
        cli(home, "init", "--hotkey-uri", uri, "--listen", "/ip4/127.0.0.1/udp/0/quic-v1")
        self.proc = subprocess.Popen([NODE, BIN, "--home", str(home), "--json", "listen", "--min-free", "0", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self._cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr or []), daemon=True).start()
        self.info = self.wait_line(lambda l: l.get("event") == "listening", 30)
        self.ss58: str = self.info["ss58"]
        self.addr: str = self.info["multiaddrs"][0]
        self.socket = str(home / "api.sock")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            with self._cv:
                self.lines.append(line)
                self._cv.notify_all()

    def wait_line(self, pred: Any, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for l in self.lines:
                    if pred(l):
                        return l
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no such line from {self.home} (exit {self.proc.poll()}): {self.lines[-5:]} {''.join(self.stderr[-5:])}")
                self._cv.wait(min(left, 0.2))

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="subwire-py-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def alice(workdir: Path) -> Iterator[Listener]:
    """The peer the Python client drives (//Alice), API on its socket and on TCP."""
    l = Listener(workdir / "alice", "//Alice", ["--api", "127.0.0.1:0"])
    yield l
    l.stop()


@pytest.fixture(scope="session")
def bob(workdir: Path) -> Iterator[Listener]:
    """Another Node peer (//Bob), with its own API for the tests that drive it too."""
    l = Listener(workdir / "bob", "//Bob", [])
    yield l
    l.stop()


def run(coro: Any) -> Any:
    """Runs a coroutine in a fresh event loop (no pytest-asyncio in Debian's default set)."""
    return asyncio.run(asyncio.wait_for(coro, 300))
