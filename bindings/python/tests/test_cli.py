# SPDX-License-Identifier: LGPL-2.1-or-later
# test_cli.py: python3 -m dnsdisc prints what dnsdiscctl prints for list, show and pick, on the same files.
import subprocess
import sys
import time

import pytest
from conftest import HERE, ctl

from test_reader import SPEC


def py(cache, *args):
    return subprocess.run([sys.executable, "-m", "dnsdisc", "--cache", str(cache), *args], capture_output=True,
                          text=True, cwd=HERE.parent, timeout=30)


@pytest.mark.parametrize("args", [
    ("list",), ("show", "web"), ("show", "plain"), ("show", "empty"), ("show", "down"),
    ("--json", "list"), ("--json", "show", "web"), ("--json", "show", "plain"), ("pick", "web", "-n", "12"),
    ("show", "nope"), ("pick", "empty"),
])
def test_same_output_as_dnsdiscctl(mkcache, args):
    cache = mkcache(SPEC)
    # Ages and TTLs are printed in whole units of 2 h (7,230 s): a second passing between the two runs
    # changes neither.
    want, got = ctl(cache, *args, check=False), py(cache, *args)
    if args[0] == "pick":
        # Each process starts the schedule at its own place: the same picks, not in the same order.
        assert sorted(got.stdout.splitlines()) == sorted(want.stdout.splitlines())
    else:
        assert got.stdout == want.stdout
    assert got.stderr == want.stderr.replace("dnsdiscctl:", "dnsdisc:")
    assert got.returncode == want.returncode


# A Maglev table, an SRV record split over two addresses (dual-stack target), unchecked backends.
HASHED = """\
service cart srv hash-table-size=251 last-good-ago=7230
backend 127.0.0.1 8080 weight=30 target=dual.cart.example ttl=7230
backend ::1 8080 weight=30 target=dual.cart.example ttl=7230
backend 127.0.0.3 8080 weight=10 target=one.cart.example ttl=7230
backend 127.0.0.4 8080 weight=10 target=down.cart.example ttl=7230 health=down
service bare srv hash-table-size=251 panic=off
backend 127.0.0.5 80 health=down
service flat query=flat.example last-good-ago=7230
backend 127.0.0.6 80 health=unchecked ttl=7230
backend 127.0.0.7 80 health=unchecked ttl=7230
"""


@pytest.mark.parametrize("args", [
    ("show", "cart"), ("--json", "show", "cart"), ("show", "bare"), ("--json", "show", "bare"), ("show", "flat"),
    ("--json", "show", "flat"), ("pick", "cart", "--hash", "user-42", "-n", "40"), ("pick", "cart", "--hash", ""),
    ("pick", "flat", "--hash", "k"), ("pick", "bare", "--hash", "k"), ("pick", "nope", "--hash", "k"),
])
def test_hash_split_unchecked_same_as_dnsdiscctl(mkcache, args):
    cache = mkcache(HASHED)
    want, got = ctl(cache, *args, check=False), py(cache, *args)
    # Hash picks do not depend on the process: the same lines in the same order.
    assert got.stdout == want.stdout
    assert got.stderr == want.stderr.replace("dnsdiscctl:", "dnsdisc:")
    assert got.returncode == want.returncode


def test_missing_cache(tmp_path):
    got, want = py(tmp_path / "none", "list"), ctl(tmp_path / "none", "list", check=False)
    assert (got.returncode, got.stderr) == (1, want.stderr.replace("dnsdiscctl:", "dnsdisc:"))


def test_usage_error_exits_2(mkcache):
    assert py(mkcache(SPEC), "pick").returncode == 2
    assert py(mkcache(SPEC), "pick", "web", "-n", "0").returncode == 2


@pytest.mark.parametrize("args", [("show", "web"), ("--json", "show", "web")])
def test_notify_line_same_as_dnsdiscctl(mkcache, args):
    # A NOTIFY-triggered round an hour ago: whole units of the printed age do not change between runs.
    last = (time.time_ns() // 1000) - 3600 * 1000000
    cache = mkcache(f"service web counter-notify-rounds=3 counter-notify-last-usec={last}\nbackend 127.0.0.1 80\n")
    want, got = ctl(cache, *args, check=False), py(cache, *args)
    assert "NOTIFY" in want.stdout or "notify_rounds" in want.stdout
    assert got.stdout == want.stdout
    assert got.returncode == want.returncode == 0
