# SPDX-License-Identifier: LGPL-2.1-or-later
# _errors.py: the exceptions of dnsdisc for Python, one class per negative errno the C library documents.
"""Exceptions: every one is a dnsdisc.Error, an OSError whose errno is the C library's."""
from __future__ import annotations

import errno as _errno
from typing import Callable, Dict, NoReturn, Optional, Sequence, Tuple, Type


class Error(OSError):
    """A libdnsdisc error: errno is the (positive) errno the C call returned,
    strerror the library's text for it, and what the operation that failed."""

    def __init__(self, errno: int, strerror: str, what: Optional[str] = None) -> None:
        super().__init__(errno, strerror)
        self.what = what

    def __str__(self) -> str:
        return f"{self.what}: {self.strerror}" if self.what else str(self.strerror)


class LibraryMissing(Error):
    """libdnsdisc.so.0 cannot be loaded."""


class NoCache(Error):
    """No cache file (ENOENT): dnsdiscd is not running, or never ran."""


class NoService(Error):
    """No service of that name in the cache (ESRCH)."""


class NoBackend(Error):
    """The service has no backend to pick (EHOSTUNREACH)."""


class Corrupt(Error):
    """The cache file is corrupt (EBADMSG)."""


class Incompatible(Error):
    """The cache file has an incompatible major version (EPROTONOSUPPORT)."""


class Again(Error):
    """The writer kept changing the service (EAGAIN): try again."""


class Stale(Error):
    """The endpoint no longer belongs to the service's set (ESTALE)."""


class NoHashTable(Error):
    """The service has no consistent-hash table: hash = off in its configuration (EOPNOTSUPP)."""


class ConnectFailed(Error):
    """connect() tried every pick it was allowed and none connected.

    errors holds (endpoint text, exception) for each try, in order."""

    def __init__(self, message: str, errors: Sequence[Tuple[str, BaseException]]) -> None:
        super().__init__(_errno.ECONNREFUSED, message)
        self.errors = list(errors)


_BY_ERRNO: Dict[int, Type[Error]] = {
    _errno.ENOENT: NoCache,
    _errno.ESRCH: NoService,
    _errno.EHOSTUNREACH: NoBackend,
    _errno.EBADMSG: Corrupt,
    _errno.EPROTONOSUPPORT: Incompatible,
    _errno.EAGAIN: Again,
    _errno.ESTALE: Stale,
    _errno.EOPNOTSUPP: NoHashTable,
}

# dnsdisc_strerror(), set once the library is loaded.
strerror: Optional[Callable[[int], str]] = None


def raise_for(r: int, what: str) -> NoReturn:
    """Raise the exception for the negative errno r, saying what failed."""
    err = -r
    text = strerror(r) if strerror else _errno.errorcode.get(err, str(err))
    raise _BY_ERRNO.get(err, Error)(err, text, what)
