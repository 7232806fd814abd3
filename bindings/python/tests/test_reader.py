# SPDX-License-Identifier: LGPL-2.1-or-later
# test_reader.py: the binding reads the same files as the C reader (dnsdiscctl) and gives the same answers and errors.
import collections
import errno
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest
from conftest import HERE, TOP_SRCDIR, ctl

import dnsdisc

SPEC = """\
# Ages and TTLs of 7,230 s print as "2h" for half a minute, whatever second each reader runs in.
service web query=_http._tcp.web.example srv state=ok last-good-ago=7230
backend 127.0.0.1 8080 priority=10 weight=1 target=a.web.example ttl=7230 {checks}
backend 127.0.0.2 8080 priority=10 weight=3 target=b.web.example ttl=7230
backend 2001:db8::1 8081 priority=10 weight=2 target=c.web.example health=down ttl=7230 {down}
backend 127.0.0.4 8082 priority=20 weight=5 target=backup.web.example ttl=7230
service plain query=plain.example state=stale error=servfail last-good-ago=7230
backend 127.0.0.9 80 health=unchecked ttl=7230
backend ::1 81 health=unchecked ttl=7230
service empty query=empty.example state=negative error=nxdomain
service down query=down.example state=ok panic=off
backend 127.0.0.5 80 health=down
""".format(checks="checks=12 failures=1 latency-us=850 ok=11 last-check-ago=2",
           down="check-error=connrefused fail=2 checks=5 failures=3")


def close(got, want, n):
    """Same keys, and counts within 1 % of n picks of each other."""
    return set(got) == set(want) and all(abs(got[k] - want[k]) <= max(2, n // 100) for k in want)


@pytest.fixture
def cache_file(mkcache):
    return mkcache(SPEC)


def test_snapshot_matches_dnsdiscctl_json(cache_file):
    with dnsdisc.open(cache_file) as cache:
        for name in ("web", "plain", "empty", "down"):
            want = json.loads(ctl(cache_file, "--json", "show", name).stdout)
            snap = cache.service(name).snapshot()
            for key in ("name", "query", "state", "healthy", "total", "scheduled", "generation", "srv", "panic",
                        "last_error"):
                assert getattr(snap, key) == want[key], (name, key)
            assert len(snap.backends) == len(want["backends"])
            for b, w in zip(snap.backends, want["backends"]):
                for key in ("address", "port", "target", "priority", "weight", "scheduled", "health", "source",
                            "checks", "failures", "consecutive_ok", "consecutive_fail", "latency_us", "check_error"):
                    assert getattr(b, key) == w[key], (name, b.address, key)
                assert abs(b.ttl - w["ttl"]) <= 1


def test_list_matches_dnsdiscctl(cache_file):
    with dnsdisc.open(cache_file) as cache:
        want = json.loads(ctl(cache_file, "--json", "list").stdout)
        assert cache.names() == [s["name"] for s in want]
        assert [s.info().generation for s in sorted(cache.services(), key=lambda s: s.name)] == \
            [s["generation"] for s in want]


def test_unchecked_backends_read_as_unchecked(cache_file):
    with dnsdisc.open(cache_file) as cache:
        snap = cache.service("plain").snapshot()
        assert [b.health for b in snap.backends] == ["unchecked", "unchecked"]
        assert all(b.scheduled for b in snap.backends)


def test_picks_are_the_c_readers_picks(cache_file):
    n = 1200
    c_picks = collections.Counter(ctl(cache_file, "pick", "web", "-n", str(n)).stdout.split())
    with dnsdisc.open(cache_file) as cache:
        web = cache.service("web")
        py_picks = collections.Counter(str(web.pick()) for _ in range(n))
    # Each process starts the schedule at its own place: over n picks the counts can differ by
    # less than one pass of the schedule.
    assert close(py_picks, c_picks, n)
    # Priority 10's healthy backends only, by weight 1:3.
    assert close(py_picks, {"127.0.0.1:8080": n // 4, "127.0.0.2:8080": 3 * n // 4}, n)


def test_endpoint_fields(cache_file):
    with dnsdisc.open(cache_file) as cache:
        plain = cache.service("plain")
        seen = {}
        for _ in range(4):
            ep = plain.pick()
            seen[ep.family] = ep
        v4, v6 = seen[socket.AF_INET], seen[socket.AF_INET6]
        assert (v4.host, v4.port, v4.sockaddr, str(v4), v4.target) == \
            ("127.0.0.9", 80, ("127.0.0.9", 80), "127.0.0.9:80", "plain.example")
        assert (v6.host, v6.port, v6.sockaddr, str(v6)) == ("::1", 81, ("::1", 81, 0, 0), "[::1]:81")


def test_pick_random_returns_only_scheduled_backends(cache_file):
    with dnsdisc.open(cache_file) as cache:
        got = {str(cache.service("web").pick_random()) for _ in range(400)}
    assert got == {"127.0.0.1:8080", "127.0.0.2:8080"}


def test_report_failure_quarantines_like_libdnsdisc(cache_file):
    with dnsdisc.open(cache_file) as cache:
        web = cache.service("web")
        ep = next(e for e in (web.pick() for _ in range(8)) if str(e) == "127.0.0.2:8080")
        web.report_failure(ep)
        assert {str(web.pick()) for _ in range(40)} == {"127.0.0.1:8080"}
        web.report_success(ep)
        assert {str(web.pick()) for _ in range(40)} == {"127.0.0.1:8080", "127.0.0.2:8080"}


def test_missing_cache_raises_nocache(tmp_path):
    with pytest.raises(dnsdisc.NoCache) as e:
        dnsdisc.open(tmp_path / "none")
    assert e.value.errno == errno.ENOENT and isinstance(e.value, dnsdisc.Error)
    assert "no cache file" in str(e.value)


def test_cache_from_the_environment(cache_file, monkeypatch):
    monkeypatch.setenv("DNSDISC_CACHE", str(cache_file))
    with dnsdisc.open() as cache:
        assert cache.path == str(cache_file) and "web" in cache.names()


@pytest.mark.parametrize("how", ["random", "truncated", "empty", "directory"])
def test_corrupt_file_raises_corrupt(cache_file, tmp_path, how):
    bad = tmp_path / "bad"
    data = cache_file.read_bytes()
    if how == "random":
        bad.write_bytes(os.urandom(65536))
    elif how == "truncated":
        bad.write_bytes(data[:600])
    elif how == "empty":
        bad.write_bytes(b"")
    else:
        bad.mkdir()
    r = ctl(bad, "list", check=False)
    assert r.returncode == 1 and "corrupt cache file" in r.stderr
    with pytest.raises(dnsdisc.Corrupt) as e:
        dnsdisc.open(bad)
    assert e.value.errno == errno.EBADMSG


def test_other_major_version_raises_incompatible(cache_file, tmp_path):
    data = bytearray(cache_file.read_bytes())
    data[8:10] = (2).to_bytes(2, "little")
    bad = tmp_path / "major2"
    bad.write_bytes(bytes(data))
    assert "incompatible cache file version" in ctl(bad, "list", check=False).stderr
    with pytest.raises(dnsdisc.Incompatible):
        dnsdisc.open(bad)


def test_unknown_service_raises_noservice(cache_file):
    with dnsdisc.open(cache_file) as cache:
        with pytest.raises(dnsdisc.NoService) as e:
            cache.service("nope")
    assert e.value.errno == errno.ESRCH and str(e.value) == "service nope: unknown service"


def test_no_backend_raises_nobackend(cache_file):
    with dnsdisc.open(cache_file) as cache:
        for name in ("empty", "down"):
            with pytest.raises(dnsdisc.NoBackend):
                cache.service(name).pick()
        with pytest.raises(dnsdisc.NoBackend):
            cache.service("empty").connect()


def test_closed_cache_raises(cache_file):
    cache = dnsdisc.open(cache_file)
    web = cache.service("web")
    ep = web.pick()
    cache.close()
    cache.close()  # twice is fine
    for call in (web.pick, lambda: web.report_failure(ep), web.snapshot, cache.names):
        with pytest.raises(dnsdisc.Error) as e:
            call()
        assert e.value.errno == errno.EBADF


def test_many_threads_pick_at_once(cache_file):
    errors, counts = [], collections.Counter()
    lock = threading.Lock()
    with dnsdisc.open(cache_file) as cache:
        web = cache.service("web")
        start = threading.Barrier(8)

        def run():
            mine = collections.Counter()
            start.wait()
            for _ in range(5000):
                try:
                    mine[str(web.pick())] += 1
                except dnsdisc.Again:
                    mine["again"] += 1
                except Exception as e:  # noqa: BLE001 - any other error fails the test
                    errors.append(e)
            with lock:
                counts.update(mine)
        threads = [threading.Thread(target=run) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert counts["again"] == 0  # nothing writes the file
    assert close(counts, {"127.0.0.1:8080": 10000, "127.0.0.2:8080": 30000}, 40000)


def test_counters_and_daemon_info(mkcache):
    path = mkcache("daemon counter-reloads=3\nservice web counter-queries=120 counter-servfail=5\n"
                   "backend 127.0.0.1 80\n")
    with dnsdisc.open(path) as cache:
        c = cache.service("web").counters()
        assert (c["queries"], c["servfail"], c["timeout"]) == (120, 5, 0)
        assert cache.counters()["reloads"] == 3
        info = cache.daemon_info()
        assert info.stopped and info.n_services == 1 and info.pid > 0
        assert cache.is_stale()


def test_daemon_info_has_the_boot_clock_heartbeat_of_1_2_files(mkcache):
    before = time.clock_gettime(time.CLOCK_BOOTTIME)
    path = mkcache("service web\nbackend 127.0.0.1 80\n")
    after = time.clock_gettime(time.CLOCK_BOOTTIME)
    with dnsdisc.open(path) as cache:
        info = cache.daemon_info()
        assert info.heartbeat_boot is not None and before <= info.heartbeat_boot <= after
    # A 1.1 file (minor at offset 10): its reserved bytes are not a heartbeat, whatever they hold.
    with open(path, "r+b") as f:
        f.seek(10)
        f.write(struct.pack("<H", 1))
    with dnsdisc.open(path) as cache:
        assert cache.daemon_info().heartbeat_boot is None


def test_skipped_probes_are_counted_by_name(mkcache):
    path = mkcache("daemon counter-checks-skipped=8\n"
                   "service web counter-checks=40 counter-checks-skipped=6\nbackend 127.0.0.1 80\n")
    with dnsdisc.open(path) as cache:
        c = cache.service("web").counters()
        assert (c["checks"], c["checks_skipped"]) == (40, 6)
        assert cache.counters()["checks_skipped"] == 8


def test_notify_counters_have_names(mkcache):
    path = mkcache("daemon counter-notify-received=7 counter-notify-rounds=2\n"
                   "service web counter-notify-rounds=2 counter-notify-last-usec=1700000000000000\n"
                   "backend 127.0.0.1 80\n")
    with dnsdisc.open(path) as cache:
        c = cache.service("web").counters()
        assert (c["notify_rounds"], c["notify_last_usec"]) == (2, 1700000000000000)
        d = cache.counters()
        assert (d["notify_received"], d["notify_rounds"], d["notify_refused"]) == (7, 2, 0)


def test_every_counter_of_the_header_has_its_name():
    # The library fills every slot, named or not: a counter added to <dnsdisc.h> without a name here would
    # silently go missing from the dicts.
    header = (TOP_SRCDIR / "libclient" / "dnsdisc.h").read_text()
    for kind, names in (("DAEMON", dnsdisc.DAEMON_COUNTERS), ("SERVICE", dnsdisc.SERVICE_COUNTERS)):
        found = re.findall(rf"DNSDISC_{kind}_COUNTER_(\w+) = (\d+),", header)
        assert [int(n) for _, n in found] == list(range(len(found)))
        assert [c.lower().replace("err_", "") for c, _ in found] == list(names)


def test_wait_times_out_without_a_change(cache_file):
    with dnsdisc.open(cache_file) as cache:
        web = cache.service("web")
        assert web.wait(web.generation(), timeout=0.05) is False
        assert web.wait(web.generation() + 1, timeout=0.05) is True


def test_a_missing_library_is_named(tmp_path):
    env = dict(os.environ, DNSDISC_LIBRARY=str(tmp_path / "libdnsdisc.so.0"))
    r = subprocess.run([sys.executable, "-c", "import dnsdisc\ntry:\n dnsdisc.open()\n"
                        "except dnsdisc.LibraryMissing as e:\n print(e)\n"], env=env, cwd=HERE.parent,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert f"cannot load {tmp_path}/libdnsdisc.so.0" in r.stdout and "make install, then ldconfig" in r.stdout
    assert "DNSDISC_LIBRARY" in r.stdout


HASHED = """
service cache query=_memcache._tcp.example.com srv hash-table-size=4093
backend 127.0.0.1 11211 target=mc1.example.com
backend 127.0.0.2 11211 target=mc2.example.com weight=3
backend 127.0.0.3 11211 target=mc3.example.com
service plain query=plain.example.com
backend 127.0.0.9 80
"""


def test_hash_is_the_c_librarys():
    assert dnsdisc.hash(b"") == 0xEF46DB3751D8E999
    assert dnsdisc.hash("user42") == dnsdisc.hash(b"user42")


def test_pick_hash_is_the_c_readers_pick(mkcache):
    path = mkcache(HASHED)
    c_picks = ctl(path, "pick", "cache", "--hash", "user", "-n", "300").stdout.split()
    with dnsdisc.open(path) as cache:
        svc = cache.service("cache")
        assert svc.hash_table_size() == 4093
        keys = ["user"] + [f"user-{i}" for i in range(1, 300)]
        assert [str(svc.pick_hash(k)) for k in keys] == c_picks
        assert str(svc.pick_hash(dnsdisc.hash("user"))) == c_picks[0]


def test_pick_hash_without_table_raises_nohashtable(mkcache):
    with dnsdisc.open(mkcache(HASHED)) as cache:
        plain = cache.service("plain")
        assert plain.hash_table_size() is None
        with pytest.raises(dnsdisc.NoHashTable):
            plain.pick_hash(1)


def test_pick_least_and_release(mkcache):
    with dnsdisc.open(mkcache(HASHED)) as cache:
        svc = cache.service("cache")
        held = [svc.pick_least() for _ in range(5)]
        # Five in flight over three backends: none holds more than two more than another.
        counts = collections.Counter(str(e) for e in held)
        assert max(counts.values()) - min(counts.get(str(e), 0) for e in held) <= 2
        for e in held:
            svc.release(e)
        with pytest.raises(ValueError):
            svc.release("127.0.0.1:11211")
        with pytest.raises(dnsdisc.Error):
            svc.release(svc.pick())
