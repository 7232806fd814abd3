# SPDX-License-Identifier: LGPL-2.1-or-later
# requests_adapter.py: a requests.Session whose http://dnsdisc.SERVICE/ URLs go to picked backends.
"""requests over dnsdisc: `http://dnsdisc.api/path` goes to a backend of service api.

    import dnsdisc
    from dnsdisc.requests_adapter import session
    with dnsdisc.open() as cache, session(cache) as http:
        r = http.get("http://dnsdisc.api/v1/items", timeout=2)

Each request picks an endpoint (SRV priority and weight, quarantine). A
connection that cannot be made (refused, unreachable, connect timeout) is
reported with report_failure() and the request goes to the next pick, up to
`tries` times (default: every endpoint picks can return); a connection made
is reported with report_success(). Nothing is retried once a connection is
made: what the backend answers, or a read timeout, is the caller's. The Host
header is the SRV target and port (the name the backend serves), or the
address for a plain host service. response.dnsdisc_endpoint is the endpoint
that answered.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.adapters
import urllib3.exceptions

from . import Cache, Endpoint

__all__ = ["DnsdiscAdapter", "session"]


def _connect_failed(e: BaseException) -> bool:
    """Whether the exception means no connection was made (so the request was not sent)."""
    seen = set()
    stack: List[Any] = [e]
    while stack:
        x = stack.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)):
            return True
        stack.extend([getattr(x, "reason", None), x.__cause__, x.__context__])
        stack.extend(a for a in getattr(x, "args", ()) if isinstance(a, BaseException))
    return False


class DnsdiscAdapter(requests.adapters.HTTPAdapter):
    """A transport adapter for URLs whose host is DOMAIN.SERVICE (domain "dnsdisc" by default)."""

    def __init__(self, cache: Cache, domain: str = "dnsdisc", tries: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cache = cache
        self.domain = domain
        self.tries = tries

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = urlsplit(request.url or "")
        host = url.hostname or ""
        prefix = self.domain + "."
        if not host.startswith(prefix) or len(host) == len(prefix):
            raise requests.exceptions.InvalidURL(f"{request.url}: the host must be {prefix}SERVICE", request=request)
        name = host[len(prefix):]
        service = self.cache.service(name)
        tries = self.tries if self.tries is not None else max(1, service.info().scheduled)
        errors: List[Tuple[str, BaseException]] = []
        for _ in range(tries):
            ep = service.pick()
            try:
                r = super().send(self._to(request, url, ep), **kwargs)
            except requests.exceptions.ConnectionError as e:
                if not _connect_failed(e):
                    raise
                service.report_failure(ep)
                errors.append((str(ep), e))
                continue
            service.report_success(ep)
            r.dnsdisc_endpoint = ep  # type: ignore[attr-defined]
            return r
        detail = "; ".join(f"{where}: {e}" for where, e in errors)
        raise requests.exceptions.ConnectionError(
            f"no backend of {name} connected after {tries} tries: {detail}", request=request)

    @staticmethod
    def _to(request: requests.PreparedRequest, url: Any, ep: Endpoint) -> requests.PreparedRequest:
        addr = ep.sockaddr[0]
        netloc = f"[{addr}]:{ep.port}" if ":" in addr else f"{addr}:{ep.port}"
        p = request.copy()
        p.url = urlunsplit((url.scheme, netloc, url.path, url.query, url.fragment))
        try:
            target = ep.target
        except Exception:
            target = ""
        p.headers["Host"] = f"{target}:{ep.port}" if target else netloc
        return p


def session(cache: Cache, domain: str = "dnsdisc", tries: Optional[int] = None) -> requests.Session:
    """A requests.Session sending http(s)://DOMAIN.SERVICE/... to the service's backends."""
    s = requests.Session()
    adapter = DnsdiscAdapter(cache, domain=domain, tries=tries)
    s.mount(f"http://{domain}.", adapter)
    s.mount(f"https://{domain}.", adapter)
    return s
