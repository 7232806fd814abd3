# SPDX-License-Identifier: LGPL-2.1-or-later
# _lib.py: libdnsdisc.so.0 through ctypes: the structures and prototypes of <dnsdisc.h>, loaded once.
"""The C library, as <dnsdisc.h> declares it. Nothing here is public.

The structures mirror the header field by field (the test suite compares
their sizes and offsets with a C program built against the header). ctypes
releases the GIL around every foreign call, so a blocked dnsdisc_wait()
lets other threads run.
"""
from __future__ import annotations

import ctypes
import errno
import os
import threading
from typing import Any, Dict, List, Optional, Tuple

from . import _errors
from ._errors import LibraryMissing

SONAME = "libdnsdisc.so.0"
LIBRARY_ENV = "DNSDISC_LIBRARY"

TARGET_MAX = 256
NAME_MAX = 128
QUERY_MAX = 256
BACKENDS_MAX = 1024
SERVICE_COUNTERS_MAX = 32
DAEMON_COUNTERS_MAX = 48
UINT64_MAX = (1 << 64) - 1

SERVICE_PANIC = 1 << 0
SERVICE_SRV = 1 << 2


class SockAddr(ctypes.Union):
    # struct sockaddr / sockaddr_in / sockaddr_in6: 28 bytes, 4-aligned.
    _fields_ = [("raw", ctypes.c_uint8 * 28), ("_align", ctypes.c_uint32 * 7)]


class Endpoint(ctypes.Structure):
    _fields_ = [
        ("addr", SockAddr),
        ("addrlen", ctypes.c_uint32),
        ("port", ctypes.c_uint16),
        ("_backend", ctypes.c_uint16),
        ("_generation", ctypes.c_uint32),
        ("_reserved0", ctypes.c_uint32),
        ("_key", ctypes.c_uint64),
        ("_service", ctypes.c_void_p),
        ("_reserved", ctypes.c_uint64 * 4),
    ]


class ServiceInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char * NAME_MAX),
        ("query", ctypes.c_char * QUERY_MAX),
        ("generation", ctypes.c_uint32),
        ("state", ctypes.c_uint8),
        ("flags", ctypes.c_uint8),
        ("last_error", ctypes.c_uint16),
        ("n_backends", ctypes.c_uint32),
        ("n_healthy", ctypes.c_uint32),
        ("n_scheduled", ctypes.c_uint32),
        ("_reserved0", ctypes.c_uint32),
        ("last_good_usec", ctypes.c_int64),
        ("next_refresh_usec", ctypes.c_int64),
        ("changed_usec", ctypes.c_int64),
        ("_reserved", ctypes.c_uint64 * 8),
    ]


class Backend(ctypes.Structure):
    _fields_ = [
        ("addr", SockAddr),
        ("addrlen", ctypes.c_uint32),
        ("port", ctypes.c_uint16),
        ("priority", ctypes.c_uint16),
        ("weight", ctypes.c_uint16),
        ("health", ctypes.c_uint8),
        ("source", ctypes.c_uint8),
        ("scheduled", ctypes.c_uint8),
        ("_reserved0", ctypes.c_uint8 * 3),
        ("ttl_expiry_usec", ctypes.c_int64),
        ("checks", ctypes.c_uint32),
        ("check_failures", ctypes.c_uint32),
        ("last_latency_usec", ctypes.c_uint32),
        ("consecutive_ok", ctypes.c_uint16),
        ("consecutive_fail", ctypes.c_uint16),
        ("last_check_usec", ctypes.c_int64),
        ("check_error", ctypes.c_uint16),
        ("_reserved1", ctypes.c_uint16 * 3),
        ("target", ctypes.c_char * TARGET_MAX),
        ("_reserved", ctypes.c_uint64 * 8),
    ]


class DaemonInfo(ctypes.Structure):
    _fields_ = [
        ("pid", ctypes.c_uint32),
        ("heartbeat_interval_ms", ctypes.c_uint32),
        ("heartbeat_usec", ctypes.c_int64),
        ("started_usec", ctypes.c_int64),
        ("stopped", ctypes.c_uint8),
        ("_reserved0", ctypes.c_uint8 * 7),
        ("n_services", ctypes.c_uint32),
        ("_reserved1", ctypes.c_uint32),
        ("heartbeat_boot_usec", ctypes.c_int64),
        ("_reserved", ctypes.c_uint64 * 7),
    ]


_P = ctypes.c_void_p
_I = ctypes.c_int
_U32 = ctypes.c_uint32
_U64 = ctypes.c_uint64
_SIZE = ctypes.c_size_t
_STR = ctypes.c_char_p

# name: (restype, argtypes)
PROTOTYPES: Dict[str, Tuple[Any, List[Any]]] = {
    "dnsdisc_open": (_I, [_STR, ctypes.POINTER(_P)]),
    "dnsdisc_close": (_P, [_P]),
    "dnsdisc_service_get": (_I, [_P, _STR, ctypes.POINTER(_P)]),
    "dnsdisc_service_next": (_I, [_P, ctypes.POINTER(_SIZE), ctypes.POINTER(_P)]),
    "dnsdisc_pick": (_I, [_P, ctypes.POINTER(Endpoint)]),
    "dnsdisc_pick_random": (_I, [_P, ctypes.POINTER(Endpoint)]),
    "dnsdisc_report_failure": (_I, [ctypes.POINTER(Endpoint)]),
    "dnsdisc_report_success": (_I, [ctypes.POINTER(Endpoint)]),
    "dnsdisc_endpoint_target": (_I, [ctypes.POINTER(Endpoint), ctypes.c_char_p, _SIZE]),
    "dnsdisc_endpoint_format": (_I, [ctypes.POINTER(Endpoint), ctypes.c_char_p, _SIZE]),
    "dnsdisc_service_info_get": (_I, [_P, ctypes.POINTER(ServiceInfo)]),
    "dnsdisc_snapshot": (_I, [_P, ctypes.POINTER(ServiceInfo), ctypes.POINTER(Backend), _SIZE]),
    "dnsdisc_generation": (_U32, [_P]),
    "dnsdisc_wait": (_I, [_P, _U32, _U64]),
    "dnsdisc_change_counter": (_U32, [_P]),
    "dnsdisc_wait_any": (_I, [_P, _U32, _U64]),
    "dnsdisc_is_stale": (_I, [_P]),
    "dnsdisc_daemon_info_get": (_I, [_P, ctypes.POINTER(DaemonInfo)]),
    "dnsdisc_strerror": (_STR, [_I]),
    "dnsdisc_state_name": (_STR, [ctypes.c_uint]),
    "dnsdisc_health_name": (_STR, [ctypes.c_uint]),
    "dnsdisc_source_name": (_STR, [ctypes.c_uint]),
    "dnsdisc_error_code_name": (_STR, [ctypes.c_uint]),
    "dnsdisc_service_counters": (_I, [_P, ctypes.POINTER(_U64), _SIZE]),
    "dnsdisc_daemon_counters": (_I, [_P, ctypes.POINTER(_U64), _SIZE]),
}
# Present in newer libraries only: bound when the library has them.
OPTIONAL: Dict[str, Tuple[Any, List[Any]]] = {
    "dnsdisc_version": (_STR, []),
    "dnsdisc_pick_hash": (_I, [_P, _U64, ctypes.POINTER(Endpoint)]),
    "dnsdisc_hash": (_U64, [ctypes.c_char_p, _SIZE]),
    "dnsdisc_hash_table_size": (_I, [_P, ctypes.POINTER(_U32)]),
    "dnsdisc_pick_least": (_I, [_P, ctypes.POINTER(Endpoint)]),
    "dnsdisc_release": (_I, [ctypes.POINTER(Endpoint)]),
}


_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None


def load() -> ctypes.CDLL:
    """The library, loaded on first use: $DNSDISC_LIBRARY, else by its soname."""
    global _lib
    with _lock:
        if _lib is not None:
            return _lib
        path = os.environ.get(LIBRARY_ENV) or SONAME
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            raise LibraryMissing(
                errno.ELIBACC, f"cannot load {path}: {e}. dnsdisc for Python needs the C library libdnsdisc: "
                f"install it (make install, then ldconfig), or set {LIBRARY_ENV} to the path of "
                f"{SONAME}") from None
        for name, (restype, argtypes) in PROTOTYPES.items():
            try:
                fn = getattr(lib, name)
            except AttributeError:
                raise LibraryMissing(errno.ELIBBAD, f"{path} has no {name}(): not libdnsdisc, or too old") from None
            fn.restype, fn.argtypes = restype, argtypes
        for name, (restype, argtypes) in OPTIONAL.items():
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype, fn.argtypes = restype, argtypes
        _errors.strerror = lambda r: text(lib.dnsdisc_strerror(r))
        _lib = lib
        return lib


def text(b: Optional[bytes]) -> str:
    return b.decode("utf-8", "replace") if b else ""
