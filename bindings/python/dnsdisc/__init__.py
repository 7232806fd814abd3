# SPDX-License-Identifier: LGPL-2.1-or-later
# __init__.py: dnsdisc for Python: the dnsdiscd cache read through libdnsdisc (Cache, Service, Endpoint).
"""dnsdisc: pick service endpoints from the dnsdiscd shared-memory cache.

    import dnsdisc
    with dnsdisc.open() as cache:          # $DNSDISC_CACHE, else /run/dnsdisc/cache
        api = cache.service("api")
        ep = api.pick()                     # SRV priority and weight, quarantine
        sock = api.connect(timeout=1.0)     # picks until one connects

Every call goes to the C library libdnsdisc (libdnsdisc.so.0, or the file
$DNSDISC_LIBRARY names), so picks, quarantine and validation are the C
library's own. Errors are dnsdisc.Error subclasses (NoCache, NoService,
NoBackend, Corrupt, Incompatible, Again, Stale, ConnectFailed), OSErrors
whose errno is the one the C call returned.

Threads: picks, reports, snapshots and waits are thread-safe. close() must
not run while another thread still uses the cache or its services; after it,
they raise Error (EBADF).
"""
from __future__ import annotations

import builtins
import ctypes
import errno as _errno
import os
import socket
import sys
import time
from dataclasses import dataclass, replace
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from . import _lib
from ._errors import (Again, ConnectFailed, Corrupt, Error, Incompatible, LibraryMissing, NoBackend, NoCache,
                      NoHashTable, NoService, Stale, raise_for)

__all__ = [
    "open", "Cache", "Service", "Endpoint", "ServiceInfo", "Snapshot", "BackendInfo", "DaemonInfo",
    "Error", "LibraryMissing", "NoCache", "NoService", "NoBackend", "Corrupt", "Incompatible", "Again",
    "Stale", "NoHashTable", "ConnectFailed", "library_version", "hash", "DEFAULT_CACHE", "CACHE_ENV",
]

DEFAULT_CACHE = "/run/dnsdisc/cache"
CACHE_ENV = "DNSDISC_CACHE"

# Names of the counters, in the order of DNSDISC_SERVICE_COUNTER_* and DNSDISC_DAEMON_COUNTER_*.
SERVICE_COUNTERS = ("resolutions", "queries", "timeout", "servfail", "refused", "nxdomain", "nodata", "other",
                    "checks", "check_failures", "notify_rounds", "notify_last_usec", "checks_skipped")
DAEMON_COUNTERS = ("queries", "resolutions", "resolution_errors", "checks", "check_failures", "publishes",
                   "file_replacements", "reloads", "notify_received", "notify_refused", "notify_bad_tsig",
                   "notify_malformed", "notify_coalesced", "notify_rounds", "updates", "update_failures",
                   "registrations", "withdrawals", "checks_skipped")

_USEC = 1_000_000


def library_version() -> Optional[str]:
    """libdnsdisc's version, or None if the library is older than dnsdisc_version()."""
    lib = _lib.load()
    fn = getattr(lib, "dnsdisc_version", None)
    return _lib.text(fn()) if fn is not None else None


def _lib_fn(name: str) -> Any:
    """A function of libdnsdisc that older libraries lack: LibraryMissing if this one does."""
    fn = getattr(_lib.load(), name, None)
    if fn is None or fn.argtypes is None:
        raise LibraryMissing(_errno.ELIBBAD, f"the loaded libdnsdisc has no {name}(): it is too old")
    return fn


def hash(data: Union[bytes, str]) -> int:  # the C library's name (dnsdisc_hash), over the builtin here
    """The documented key hash of consistent hashing: XXH64, seed 0, of the bytes (str: UTF-8)."""
    b = data.encode() if isinstance(data, str) else bytes(data)
    return int(_lib_fn("dnsdisc_hash")(b, len(b)))


def _seconds(usec: int) -> Optional[float]:
    return usec / _USEC if usec else None


def _timeout_usec(timeout: Optional[float]) -> int:
    if timeout is None:
        return _lib.UINT64_MAX
    if timeout < 0:
        raise ValueError("timeout must be >= 0 or None")
    return min(int(timeout * _USEC), _lib.UINT64_MAX - 1)


def _address(sa: _lib.SockAddr) -> Tuple[int, str, int, tuple]:
    """(family, host text as dnsdiscctl prints it, port, socket address tuple) of a C sockaddr."""
    raw = bytes(sa.raw)
    family = int.from_bytes(raw[0:2], sys.byteorder)  # sa_family and sin6_scope_id: host order
    port = int.from_bytes(raw[2:4], "big")
    if family == socket.AF_INET:
        host = socket.inet_ntop(socket.AF_INET, raw[4:8])
        return family, host, port, (host, port)
    if family == socket.AF_INET6:
        host = socket.inet_ntop(socket.AF_INET6, raw[8:24])
        flowinfo = int.from_bytes(raw[4:8], "big")
        scope = int.from_bytes(raw[24:28], sys.byteorder)
        text = host
        if scope:
            try:
                text = f"{host}%{socket.if_indextoname(scope)}"
            except OSError:
                text = f"{host}%{scope}"
        return family, text, port, (host, port, flowinfo, scope)
    raise Corrupt(_errno.EAFNOSUPPORT, f"address family {family} in the cache")


class Endpoint:
    """A picked endpoint: a value, valid to report while its Cache is open."""

    __slots__ = ("_c", "_service", "_addr", "_target")

    def __init__(self, c: _lib.Endpoint, service: "Service") -> None:
        self._c = c
        self._service = service
        self._addr: Optional[Tuple[int, str, int, tuple]] = None
        self._target: Optional[str] = None

    def _parsed(self) -> Tuple[int, str, int, tuple]:
        if self._addr is None:
            self._addr = _address(self._c.addr)
        return self._addr

    @property
    def service(self) -> "Service":
        return self._service

    @property
    def family(self) -> int:
        """socket.AF_INET or socket.AF_INET6."""
        return self._parsed()[0]

    @property
    def host(self) -> str:
        """The address as text (an IPv6 link-local one with %interface)."""
        return self._parsed()[1]

    @property
    def port(self) -> int:
        return int(self._c.port)

    @property
    def sockaddr(self) -> tuple:
        """The address for socket.connect() on a socket of this family."""
        return self._parsed()[3]

    @property
    def target(self) -> str:
        """The SRV target (or host) name; Stale if the set changed so that the endpoint left it."""
        if self._target is None:
            lib = self._service._cache._lib_open()
            buf = ctypes.create_string_buffer(_lib.TARGET_MAX)
            r = lib.dnsdisc_endpoint_target(ctypes.byref(self._c), buf, len(buf))
            if r < 0:
                raise_for(r, f"target of {self}")
            self._target = _lib.text(buf.value)
        return self._target

    def __str__(self) -> str:
        """'ADDRESS:PORT', or '[ADDRESS]:PORT' for IPv6, as libdnsdisc formats it."""
        lib = self._service._cache._lib_open()
        buf = ctypes.create_string_buffer(64)
        r = lib.dnsdisc_endpoint_format(ctypes.byref(self._c), buf, len(buf))
        if r < 0:
            raise_for(r, "formatting an endpoint")
        return _lib.text(buf.value)

    def __repr__(self) -> str:
        return f"<dnsdisc.Endpoint {self} of {self._service.name}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Endpoint) and (self.family, self.sockaddr) == (other.family, other.sockaddr)

    def __hash__(self) -> int:
        return builtins.hash((self.family, self.sockaddr))


@dataclass(frozen=True)
class BackendInfo:
    """A backend as the cache publishes it (the keys of `dnsdiscctl --json show`, and more)."""
    address: str
    port: int
    family: int
    target: str
    priority: int
    weight: int
    scheduled: bool
    health: str                 # "up", "down", "unknown" or "unchecked"
    ttl: int                    # whole seconds until the DNS data expires, rounded up; 0 once expired
    ttl_expiry: float           # Unix time the DNS data expires
    source: str                 # "srv", "a" or "aaaa"
    checks: int
    failures: int
    consecutive_ok: int
    consecutive_fail: int
    latency_us: int
    check_error: Optional[str]
    last_check: Optional[float]  # Unix time of the last probe, None if never
    sockaddr: tuple
    # Picked addresses of this backend's SRV record (same target, port, priority and weight) that share its
    # weight: the schedule gives each weight / weight_split. 0: not picked; 1: not split.
    weight_split: int = 0


@dataclass(frozen=True)
class ServiceInfo:
    """A service's state (the keys of `dnsdiscctl --json list`, and more)."""
    name: str
    query: str
    state: str                  # "pending", "ok", "stale", "negative" or "error"
    generation: int
    srv: bool
    panic: bool
    last_error: Optional[str]
    total: int
    healthy: int
    scheduled: int
    last_good: Optional[float]  # Unix time of the last good answer, None if never
    next_refresh: Optional[float]
    changed: Optional[float]


@dataclass(frozen=True)
class Snapshot(ServiceInfo):
    """A service's state and backends, all from one version of the service."""
    backends: Tuple[BackendInfo, ...] = ()


@dataclass(frozen=True)
class DaemonInfo:
    pid: int
    heartbeat_interval: float   # seconds
    heartbeat: Optional[float]  # Unix time of the last heartbeat
    started: Optional[float]
    stopped: bool
    n_services: int
    # CLOCK_BOOTTIME seconds of the last heartbeat (cache format 1.2), None: the file does not
    # say; what is_stale() goes by when known, since no wall-clock step moves it.
    heartbeat_boot: Optional[float] = None


def _same_record(a: BackendInfo, b: BackendInfo) -> bool:
    return (a.source == b.source == "srv" and a.port == b.port and a.priority == b.priority
            and a.weight == b.weight and a.target == b.target)


def _with_weight_split(backends: List[BackendInfo]) -> List[BackendInfo]:
    """Each picked backend's count of picked addresses of its SRV record (adjacent in the cache), as dnsdiscctl."""
    out = []
    for i, b in enumerate(backends):
        split = 0
        if b.scheduled:
            first, end = i, i + 1
            while first > 0 and _same_record(backends[first - 1], b):
                first -= 1
            while end < len(backends) and _same_record(backends[end], b):
                end += 1
            split = sum(1 for k in range(first, end) if backends[k].scheduled)
        out.append(replace(b, weight_split=split))
    return out


def _remaining(now_usec: int, expiry_usec: int) -> int:
    return (expiry_usec - now_usec + _USEC - 1) // _USEC if expiry_usec > now_usec else 0


class Service:
    """A service of an open Cache; lives as long as the Cache is open."""

    __slots__ = ("_cache", "_h", "_name", "_pick", "_pick_random")

    def __init__(self, cache: "Cache", handle: int, name: str) -> None:
        self._cache = cache
        self._h = handle
        self._name = name
        lib = cache._lib_open()
        self._pick = lib.dnsdisc_pick
        self._pick_random = lib.dnsdisc_pick_random

    @property
    def name(self) -> str:
        return self._name

    def _handle(self) -> int:
        self._cache._lib_open()
        return self._h

    def __repr__(self) -> str:
        return f"<dnsdisc.Service {self._name}>"

    def pick(self) -> Endpoint:
        """The next endpoint by the service's schedule (SRV priority and weight), skipping quarantined ones."""
        c = _lib.Endpoint()
        r = self._pick(self._handle(), ctypes.byref(c))
        if r < 0:
            raise_for(r, f"pick from {self._name}")
        return Endpoint(c, self)

    def pick_random(self) -> Endpoint:
        """A random endpoint, drawn with the weights pick() follows."""
        c = _lib.Endpoint()
        r = self._pick_random(self._handle(), ctypes.byref(c))
        if r < 0:
            raise_for(r, f"random pick from {self._name}")
        return Endpoint(c, self)

    def pick_hash(self, key: Union[int, bytes, str]) -> Endpoint:
        """The endpoint for key through the service's Maglev table (hash = maglev): every process on the
        host maps a key alike. key: a 64-bit integer, or bytes/str hashed with dnsdisc.hash()."""
        k = key if isinstance(key, int) else hash(key)
        c = _lib.Endpoint()
        r = _lib_fn("dnsdisc_pick_hash")(self._handle(), k & 0xFFFFFFFFFFFFFFFF, ctypes.byref(c))
        if r < 0:
            raise_for(r, f"hash pick from {self._name}")
        return Endpoint(c, self)

    def hash_table_size(self) -> Optional[int]:
        """Entries of the service's consistent-hash table, or None without one."""
        n = ctypes.c_uint32()
        r = _lib_fn("dnsdisc_hash_table_size")(self._handle(), ctypes.byref(n))
        if r == -_errno.EOPNOTSUPP:
            return None
        if r < 0:
            raise_for(r, f"hash table of {self._name}")
        return int(n.value)

    def pick_least(self) -> Endpoint:
        """Least-request: of two endpoints drawn by weight, the one with fewer requests in flight from this
        process. Call release() with it when its request ends."""
        c = _lib.Endpoint()
        r = _lib_fn("dnsdisc_pick_least")(self._handle(), ctypes.byref(c))
        if r < 0:
            raise_for(r, f"least-request pick from {self._name}")
        return Endpoint(c, self)

    def release(self, ep: Endpoint) -> None:
        """Ends the request of an endpoint from pick_least()."""
        if not isinstance(ep, Endpoint) or ep._service._cache is not self._cache:
            raise ValueError("an Endpoint picked from this cache is needed")
        r = _lib_fn("dnsdisc_release")(ctypes.byref(ep._c))
        if r < 0:
            raise_for(r, f"releasing {ep}")

    def report_failure(self, ep: Endpoint) -> None:
        """This process skips ep for a quarantine (1 s, doubling up to 30 s) until report_success()."""
        self._report(ep, "dnsdisc_report_failure", "failure")

    def report_success(self, ep: Endpoint) -> None:
        """Ends ep's quarantine."""
        self._report(ep, "dnsdisc_report_success", "success")

    def _report(self, ep: Endpoint, fn: str, what: str) -> None:
        if not isinstance(ep, Endpoint) or ep._service._cache is not self._cache:
            raise ValueError("an Endpoint picked from this cache is needed")
        r = getattr(self._cache._lib_open(), fn)(ctypes.byref(ep._c))
        if r < 0:
            raise_for(r, f"reporting the {what} of {ep}")

    def generation(self) -> int:
        """The current generation: changes with the set of backends, the state or a backend's health."""
        return int(self._cache._lib_open().dnsdisc_generation(self._handle()))

    def wait(self, generation: int, timeout: Optional[float] = None) -> bool:
        """Block (GIL released) until the generation differs from `generation`: True; False on timeout."""
        lib = self._cache._lib_open()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            r = lib.dnsdisc_wait(self._handle(), generation & 0xFFFFFFFF, _timeout_usec(left))
            if r == -_errno.EINTR:
                continue  # PEP 475: a signal handler that did not raise lets the wait go on
            if r < 0:
                raise_for(r, f"waiting for {self._name}")
            return r == 1

    def info(self) -> ServiceInfo:
        c = _lib.ServiceInfo()
        r = self._cache._lib_open().dnsdisc_service_info_get(self._handle(), ctypes.byref(c))
        if r < 0:
            raise_for(r, f"reading {self._name}")
        return ServiceInfo(**self._cache._info_fields(c))

    def snapshot(self) -> Snapshot:
        """The state and every backend, consistently."""
        lib = self._cache._lib_open()
        info = _lib.ServiceInfo()
        n = 16
        while True:
            arr = (_lib.Backend * n)()
            r = lib.dnsdisc_snapshot(self._handle(), ctypes.byref(info), arr, n)
            if r == -_errno.ENOBUFS and n < _lib.BACKENDS_MAX:
                n = _lib.BACKENDS_MAX
                continue
            if r < 0:
                raise_for(r, f"reading {self._name}")
            break
        now = time.time_ns() // 1000
        backends = []
        for b in arr[:r]:
            family, host, port, sockaddr = _address(b.addr)
            backends.append(BackendInfo(
                address=host, port=int(b.port), family=family, target=_lib.text(b.target),
                priority=int(b.priority), weight=int(b.weight), scheduled=bool(b.scheduled),
                health=_lib.text(lib.dnsdisc_health_name(b.health)), ttl=_remaining(now, b.ttl_expiry_usec),
                ttl_expiry=b.ttl_expiry_usec / _USEC, source=_lib.text(lib.dnsdisc_source_name(b.source)),
                checks=int(b.checks), failures=int(b.check_failures), consecutive_ok=int(b.consecutive_ok),
                consecutive_fail=int(b.consecutive_fail), latency_us=int(b.last_latency_usec),
                check_error=_lib.text(lib.dnsdisc_error_code_name(b.check_error)) if b.check_error else None,
                last_check=_seconds(b.last_check_usec), sockaddr=sockaddr))
        backends = _with_weight_split(backends)
        return Snapshot(**self._cache._info_fields(info), backends=tuple(backends))

    def counters(self) -> Dict[str, int]:
        """The service's monotonic counters: queries, resolutions, errors by kind, checks."""
        arr = (ctypes.c_uint64 * _lib.SERVICE_COUNTERS_MAX)()
        r = self._cache._lib_open().dnsdisc_service_counters(self._handle(), arr, len(arr))
        if r < 0:
            raise_for(r, f"reading the counters of {self._name}")
        return {name: int(arr[i]) for i, name in enumerate(SERVICE_COUNTERS) if i < r}

    def connect(self, timeout: Optional[float] = 1.0, tries: Optional[int] = None,
                type: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket connected to a picked endpoint (blocking mode).

        Each failed connection is reported (the endpoint is quarantined) and the
        next pick is tried, up to `tries` times (default: every endpoint picks
        can return). ConnectFailed lists every error."""
        if tries is None:
            tries = max(1, self.info().scheduled)
        errors: List[Tuple[str, BaseException]] = []
        for _ in range(tries):
            try:
                ep = self.pick()
            except Again as e:
                errors.append(("pick", e))
                continue
            sock = socket.socket(ep.family, type)
            try:
                sock.settimeout(timeout)
                sock.connect(ep.sockaddr)
            except OSError as e:
                sock.close()
                errors.append((str(ep), e))
                self.report_failure(ep)
                continue
            sock.settimeout(None)
            self.report_success(ep)
            return sock
        detail = "; ".join(f"{where}: {e}" for where, e in errors)
        raise ConnectFailed(f"no backend of {self._name} connected after {tries} tries: {detail}", errors)


class Cache:
    """An open dnsdiscd cache. A context manager; close() ends every Service and Endpoint taken from it."""

    def __init__(self, path: Optional[Union[str, os.PathLike]] = None) -> None:
        self._d: Optional[int] = None
        self._services: Dict[str, Service] = {}
        self.path = os.fspath(path) if path is not None else os.environ.get(CACHE_ENV) or DEFAULT_CACHE
        self._lib = _lib.load()
        d = ctypes.c_void_p()
        r = self._lib.dnsdisc_open(os.fsencode(self.path), ctypes.byref(d))
        if r < 0:
            raise_for(r, f"opening {self.path}")
        self._d = d.value

    def _lib_open(self) -> ctypes.CDLL:
        if self._d is None:
            raise Error(_errno.EBADF, f"the cache {self.path} is closed")
        return self._lib

    def close(self) -> None:
        if self._d is not None:
            d, self._d = self._d, None
            self._services.clear()
            self._lib.dnsdisc_close(d)

    def __enter__(self) -> "Cache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_d", None) is not None:
            self.close()

    def __repr__(self) -> str:
        return f"<dnsdisc.Cache {self.path}{'' if self._d is not None else ' closed'}>"

    def service(self, name: str) -> Service:
        """The service of that name; NoService if the cache has none."""
        s = self._services.get(name)
        if s is not None and self._d is not None:
            return s
        lib = self._lib_open()
        h = ctypes.c_void_p()
        r = lib.dnsdisc_service_get(self._d, name.encode(), ctypes.byref(h))
        if r < 0:
            raise_for(r, f"service {name}")
        s = Service(self, h.value or 0, name)
        self._services[name] = s
        return s

    def services(self) -> Iterator[Service]:
        """Every service in the cache, in the file's order."""
        lib = self._lib_open()
        cursor = ctypes.c_size_t(0)
        while True:
            h = ctypes.c_void_p()
            r = lib.dnsdisc_service_next(self._d, ctypes.byref(cursor), ctypes.byref(h))
            if r < 0:
                raise_for(r, f"listing {self.path}")
            if r == 0:
                return
            info = _lib.ServiceInfo()
            r = lib.dnsdisc_service_info_get(h, ctypes.byref(info))
            if r < 0:
                raise_for(r, f"listing {self.path}")
            name = _lib.text(info.name)
            s = self._services.get(name)
            if s is None:
                s = self._services[name] = Service(self, h.value or 0, name)
            yield s

    def names(self) -> List[str]:
        return sorted(s.name for s in self.services())

    def is_stale(self) -> bool:
        """True once dnsdiscd stopped refreshing the cache (clean stop, or a late heartbeat)."""
        return self._lib_open().dnsdisc_is_stale(self._d) == 1

    def daemon_info(self) -> DaemonInfo:
        c = _lib.DaemonInfo()
        r = self._lib_open().dnsdisc_daemon_info_get(self._d, ctypes.byref(c))
        if r < 0:
            raise_for(r, "reading the daemon's liveness")
        return DaemonInfo(pid=int(c.pid), heartbeat_interval=c.heartbeat_interval_ms / 1000,
                          heartbeat=_seconds(c.heartbeat_usec), started=_seconds(c.started_usec),
                          stopped=bool(c.stopped), n_services=int(c.n_services),
                          heartbeat_boot=_seconds(c.heartbeat_boot_usec))

    def change_counter(self) -> int:
        return int(self._lib_open().dnsdisc_change_counter(self._d))

    def wait_any(self, counter: int, timeout: Optional[float] = None) -> bool:
        """Block (GIL released) until any service changes after change_counter() gave `counter`."""
        lib = self._lib_open()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            r = lib.dnsdisc_wait_any(self._d, counter & 0xFFFFFFFF, _timeout_usec(left))
            if r == -_errno.EINTR:
                continue
            if r < 0:
                raise_for(r, "waiting for a change")
            return r == 1

    def counters(self) -> Dict[str, int]:
        """The daemon-wide counters."""
        arr = (ctypes.c_uint64 * _lib.DAEMON_COUNTERS_MAX)()
        r = self._lib_open().dnsdisc_daemon_counters(self._d, arr, len(arr))
        if r < 0:
            raise_for(r, "reading the daemon's counters")
        return {name: int(arr[i]) for i, name in enumerate(DAEMON_COUNTERS) if i < r}

    def _info_fields(self, c: _lib.ServiceInfo) -> dict:
        lib = self._lib
        return dict(
            name=_lib.text(c.name), query=_lib.text(c.query), state=_lib.text(lib.dnsdisc_state_name(c.state)),
            generation=int(c.generation), srv=bool(c.flags & _lib.SERVICE_SRV),
            panic=bool(c.flags & _lib.SERVICE_PANIC),
            last_error=_lib.text(lib.dnsdisc_error_code_name(c.last_error)) if c.last_error else None,
            total=int(c.n_backends), healthy=int(c.n_healthy), scheduled=int(c.n_scheduled),
            last_good=_seconds(c.last_good_usec), next_refresh=_seconds(c.next_refresh_usec),
            changed=_seconds(c.changed_usec))


def open(path: Optional[Union[str, os.PathLike]] = None) -> Cache:
    """Open the cache at path (None: $DNSDISC_CACHE, else /run/dnsdisc/cache)."""
    return Cache(path)
