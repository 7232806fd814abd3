# SPDX-License-Identifier: LGPL-2.1-or-later
# test_daemon.py: the binding against a real dnsdiscd resolving from BIND, with real TCP/HTTP backends.
import collections
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
from conftest import HERE, TOP_SRCDIR, ctl, wait_for, zone_header

import dnsdisc
from dnsdisc.requests_adapter import session

ORIGIN = "example.com"
N_PICKS = 4000


@pytest.fixture
def api(stack, listeners):
    """Service api: SRV a (weight 1) and b (weight 3), each a real listener on its own 127.43.0.x address."""
    a, b = listeners("127.43.0.1", "a"), listeners("127.43.0.2", "b")
    zone = zone_header(ORIGIN) + (
        f"_http._tcp.api 30 IN SRV 10 1 {a.port} a\n"
        f"_http._tcp.api 30 IN SRV 10 3 {b.port} b\n"
        "a 30 IN A 127.43.0.1\nb 30 IN A 127.43.0.2\n")
    s = stack(ORIGIN, zone, "[service api]\nsrv = _http._tcp.api.example.com\n")
    cache = dnsdisc.open(s.cache)
    svc = cache.service("api")
    assert wait_for(lambda: svc.info().scheduled == 2, 10), svc.snapshot()
    yield s, cache, svc, a, b
    cache.close()


def test_picks_follow_the_weights(api):
    s, cache, svc, a, b = api
    got = collections.Counter(svc.pick().host for _ in range(N_PICKS))
    share_b = 100 * got["127.43.0.2"] / N_PICKS
    assert set(got) == {"127.43.0.1", "127.43.0.2"}
    assert 73 <= share_b <= 77, got
    # The C reader picks the same from the same file (from its own place in the schedule).
    c = collections.Counter(x.rsplit(":", 1)[0] for x in ctl(s.cache, "pick", "api", "-n", str(N_PICKS)).stdout.split())
    assert set(c) == set(got) and all(abs(c[k] - got[k]) <= N_PICKS // 100 for k in got), (c, got)


def test_unchecked_backends_of_the_daemon(api):
    s, cache, svc, a, b = api
    snap = svc.snapshot()
    assert sorted((x.target, x.port, x.weight, x.health) for x in snap.backends) == \
        [("a.example.com", a.port, 1, "unchecked"), ("b.example.com", b.port, 3, "unchecked")]
    assert snap.state == "ok" and snap.srv


def test_a_killed_backend_is_reported_and_skipped(api):
    s, cache, svc, a, b = api
    a.close()
    ep = next(e for e in (svc.pick() for _ in range(8)) if e.host == "127.43.0.1")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(ep.sockaddr, timeout=2).close()
    svc.report_failure(ep)
    # Quarantined for 1 s: the next picks, far fewer than a second's worth, all go to b.
    assert {svc.pick().host for _ in range(200)} == {"127.43.0.2"}


def test_connect_skips_a_dead_backend(api):
    s, cache, svc, a, b = api
    a.close()
    before = b.accepted
    for _ in range(40):
        sock = svc.connect(timeout=2.0)
        assert sock.getpeername() == ("127.43.0.2", b.port)
        sock.close()
    assert wait_for(lambda: b.accepted - before == 40, 5)


def test_connect_fails_with_every_error(api):
    s, cache, svc, a, b = api
    a.close()
    b.close()
    with pytest.raises(dnsdisc.ConnectFailed) as e:
        svc.connect(timeout=2.0)
    assert len(e.value.errors) == 2
    assert {where for where, _ in e.value.errors} == {f"127.43.0.1:{a.port}", f"127.43.0.2:{b.port}"}
    assert "Connection refused" in str(e.value) and "after 2 tries" in str(e.value)


def test_wait_returns_on_a_change(api, listeners):
    s, cache, svc, a, b = api
    c = listeners("127.43.0.3", "c")
    gen = svc.generation()
    result = {}

    def waiter():
        t0 = time.monotonic()
        result["changed"] = svc.wait(gen, timeout=30)
        result["seconds"] = time.monotonic() - t0
    t = threading.Thread(target=waiter)
    t.start()
    # The waiter blocks in C without the GIL: this thread keeps running meanwhile.
    spins = 0
    end = time.monotonic() + 0.2
    while time.monotonic() < end:
        spins += 1
    assert t.is_alive() and spins > 1000
    s.nsupdate(f"update add _http._tcp.api.{ORIGIN}. 30 IN SRV 10 1 {c.port} c.{ORIGIN}.",
               f"update add c.{ORIGIN}. 30 IN A 127.43.0.3")
    s.refresh()
    t.join(30)
    assert result.get("changed") is True, result
    assert svc.generation() != gen
    assert wait_for(lambda: len(svc.snapshot().backends) == 3, 10)


def test_requests_adapter_reaches_every_backend_by_weight(api):
    s, cache, svc, a, b = api
    with session(cache) as http:
        got = collections.Counter(http.get("http://dnsdisc.api/x", timeout=5).text for _ in range(400))
    assert set(got) == {"a", "b"}
    assert 73 <= 100 * got["b"] / 400 <= 77, got
    assert set(a.hosts) == {f"a.example.com:{a.port}"} and set(b.hosts) == {f"b.example.com:{b.port}"}


def test_requests_adapter_skips_a_dead_backend(api):
    s, cache, svc, a, b = api
    a.close()
    with session(cache) as http:
        bodies = [http.get("http://dnsdisc.api/y", timeout=5) for _ in range(40)]
    assert {r.text for r in bodies} == {"b"} and {r.status_code for r in bodies} == {200}
    assert {r.dnsdisc_endpoint.host for r in bodies} == {"127.43.0.2"}
    with session(cache) as http, pytest.raises(dnsdisc.NoService):
        http.get("http://dnsdisc.nope/", timeout=5)


def test_the_example_connects_and_gets(api):
    s, cache, svc, a, b = api
    example = TOP_SRCDIR / "docs" / "examples" / "python" / "pick_connect.py"
    env = dict(os.environ, DNSDISC_CACHE=str(s.cache), PYTHONPATH=str(HERE.parent))
    r = subprocess.run([sys.executable, str(example), "api", "api"], env=env, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] in (f"connected to 127.43.0.1:{a.port}", f"connected to 127.43.0.2:{b.port}")
    assert lines[1].startswith("GET / from 127.43.0.") and lines[1].endswith(": 200")
    r = subprocess.run([sys.executable, str(example), "nope"], env=env, capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stderr) == (1, "pick_connect: service nope: unknown service\n")
