# SPDX-License-Identifier: LGPL-2.1-or-later
# conftest.py: fixtures of the Python binding's tests: the built tree, mkcache files, BIND + dnsdiscd, listeners.
"""The tests run against a built tree: top_builddir (default: ../../build from
here) and top_srcdir (default: the tree holding this file). The binding loads
the tree's libdnsdisc.so.0 through $DNSDISC_LIBRARY, set here when unset."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import pytest

HERE = Path(__file__).resolve().parent
TOP_SRCDIR = Path(os.environ.get("top_srcdir") or HERE.parents[2]).resolve()
TOP_BUILDDIR = Path(os.environ.get("top_builddir") or TOP_SRCDIR / "build").resolve()
LIBRARY = TOP_BUILDDIR / "libclient" / ".libs" / "libdnsdisc.so.0"
DNSDISCCTL = TOP_BUILDDIR / "tools" / "dnsdiscctl"
MKCACHE = TOP_BUILDDIR / "tests" / "mkcache"
DNSDISCD = TOP_BUILDDIR / "daemon" / "dnsdiscd"

os.environ.setdefault("DNSDISC_LIBRARY", str(LIBRARY))
os.environ.setdefault("top_srcdir", str(TOP_SRCDIR))
os.environ.setdefault("top_builddir", str(TOP_BUILDDIR))
sys.path.insert(0, str(HERE.parent))


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = [str(p) for p in (LIBRARY, DNSDISCCTL, MKCACHE, DNSDISCD) if not p.exists()]
    if missing:
        raise pytest.UsageError(f"build the tree first (make -C {TOP_BUILDDIR} check): missing {missing}")


@pytest.fixture
def mkcache(tmp_path: Path) -> Callable[[str], Path]:
    """mkcache(spec) -> path of a cache file written by tests/mkcache (through the daemon's writer)."""
    n = [0]

    def make(spec: str) -> Path:
        n[0] += 1
        path = tmp_path / f"cache{n[0]}"
        subprocess.run([str(MKCACHE), str(path)], input=spec, text=True, check=True, stdout=subprocess.DEVNULL)
        return path
    return make


def ctl(cache: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """dnsdiscctl --cache CACHE ARGS, output captured as text."""
    return subprocess.run([str(DNSDISCCTL), "--cache", str(cache), *args], capture_output=True, text=True,
                          check=check, timeout=30)


class Listener:
    """A real TCP listener on ADDRESS:0 that accepts and counts connections, answering HTTP 200 with its name."""

    def __init__(self, address: str, name: str) -> None:
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, 0))
        self.sock.listen(128)
        self.address, self.port = self.sock.getsockname()
        self.accepted = 0
        self.hosts: List[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                while True:  # keep-alive: one answer per request until the client closes
                    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
                    host = [h.split(":", 1)[1].strip() for h in head.split("\r\n") if h.lower().startswith("host:")]
                    self.hosts.append(host[0] if host else "")
                    body = self.name.encode()
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                    data = data.split(b"\r\n\r\n", 1)[1]
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(4096)
                        if not chunk:
                            return
                        data += chunk
            except OSError:
                return

    def close(self) -> None:
        """Stop listening: new connections are refused. (shutdown() wakes the accepting thread;
        close() alone would leave the socket listening until accept() returns.)"""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(5)


@pytest.fixture
def listeners() -> Iterator[Callable[[str, str], Listener]]:
    made: List[Listener] = []

    def make(address: str, name: str) -> Listener:
        made.append(Listener(address, name))
        return made[-1]
    yield make
    for x in made:
        x.close()


class Stack:
    """BIND serving a zone and dnsdiscd resolving services from it (tests/stack.sh)."""

    def __init__(self, tmp: Path, origin: str, zone: str, services: str) -> None:
        self.origin = origin
        (tmp / "zone.db").write_text(zone)
        (tmp / "services.conf").write_text(services)
        self.proc = subprocess.Popen(["bash", str(HERE / "stack.sh"), origin, str(tmp / "zone.db"),
                                      str(tmp / "services.conf")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.env: Dict[str, str] = {}
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if line in ("ready", "failed"):
                break
            k, _, v = line.partition("=")
            self.env[k] = v
        if "DD_PID" not in self.env or line != "ready":
            self.stop()
            raise RuntimeError("BIND and dnsdiscd did not start (tests/stack.sh; see its stderr above)")
        self.cache = Path(self.env["DD_CACHE"])
        self.dd_pid = int(self.env["DD_PID"])

    def nsupdate(self, *lines: str) -> None:
        head = [f"server 127.0.0.1 {self.env['NAMED_PORT']}", f"zone {self.origin}"]
        script = "".join(f"{x}\n" for x in (*head, *lines, "send"))
        subprocess.run(["nsupdate", "-t", "5"], input=script, text=True, check=True, timeout=15)

    def refresh(self) -> None:
        """dnsdiscd resolves every service again now (SIGUSR1), rather than when the TTLs run out."""
        os.kill(self.dd_pid, 10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def zone_header(origin: str) -> str:
    return (f"$ORIGIN {origin}.\n$TTL 60\n"
            f"@ IN SOA ns.{origin}. hostmaster.{origin}. ( 1 3600 600 86400 10 )\n"
            f"  IN NS ns.{origin}.\nns IN A 127.0.0.1\n")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    made: List[Stack] = []

    def start(origin: str, zone: str, services: str) -> Stack:
        made.append(Stack(tmp_path, origin, zone, services))
        return made[-1]
    yield start
    for s in made:
        s.stop()


def wait_for(pred: Callable[[], object], timeout: float, step: float = 0.05) -> Optional[object]:
    """Poll pred until it is true (returned) or timeout seconds pass (None)."""
    import time
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            return None
        time.sleep(step)
