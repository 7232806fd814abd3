# SPDX-License-Identifier: LGPL-2.1-or-later
# __main__.py: python3 -m dnsdisc list|show|pick: dnsdiscctl's read-only commands, with the same output.
"""python3 -m dnsdisc [--cache PATH] [--json] list | show SERVICE | pick SERVICE [--hash KEY] [-n N]

Prints what `dnsdiscctl` prints for the same commands (standard output
byte for byte, the same warnings and errors on standard error, with this
program's name), for hosts where only Python is at hand. Exit status: 0,
1 for an error, 2 for bad usage."""
from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import time
from typing import List, Optional, Sequence, TextIO

from . import CACHE_ENV, DEFAULT_CACHE, BackendInfo, Cache, DaemonInfo, Error, ServiceInfo, Snapshot

PROG = "dnsdisc"
_USEC = 1_000_000


def format_timespan(seconds: int) -> str:
    """As dnsdiscctl: the largest unit and the next one if not zero ("2min5s", "1h", "0s")."""
    units = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
    i = 0
    while i < len(units) - 1 and seconds < units[i][1]:
        i += 1
    major, rest = divmod(seconds, units[i][1])
    if i + 1 < len(units) and rest >= units[i + 1][1]:
        return f"{major}{units[i][0]}{rest // units[i + 1][1]}{units[i + 1][0]}"
    return f"{major}{units[i][0]}"


def format_latency(usec: int) -> str:
    if usec < 1000:
        return f"{usec}us"
    if usec < 1000000:
        return f"{usec / 1e3:.1f}ms"
    return f"{usec / 1e6:.2f}s"


def _age(now_usec: int, then: Optional[float]) -> int:
    then_usec = round(then * _USEC) if then else 0
    return (now_usec - then_usec) // _USEC if now_usec > then_usec else 0


def _heartbeat_age(now_usec: int, di: DaemonInfo) -> int:
    """Whole seconds since the last heartbeat: on the boot clock when the file has that stamp
    and it is this boot's (not more than three intervals ahead), as dnsdiscctl and is_stale()."""
    if di.heartbeat_boot is not None:
        boot_now = time.clock_gettime(time.CLOCK_BOOTTIME)
        if di.heartbeat_boot <= boot_now:
            return int(boot_now - di.heartbeat_boot)
        if di.heartbeat_boot - boot_now <= max(3 * di.heartbeat_interval, 3.0):
            return 0
    return _age(now_usec, di.heartbeat)


def _remaining(now_usec: int, when: Optional[float]) -> int:
    when_usec = round(when * _USEC) if when else 0
    return (when_usec - now_usec + _USEC - 1) // _USEC if when_usec > now_usec else 0


def _flags(info: ServiceInfo) -> str:
    return ",".join(f for f, on in (("srv", info.srv), ("panic", info.panic)) if on) or "-"


def print_table(headers: Sequence[str], rows: List[List[str]], right: Sequence[int], f: TextIO) -> None:
    """dnsdiscctl's tables: two blanks between columns, no trailing blanks."""
    cells = [list(headers)] + rows
    width = [max(len(r[c]) for r in cells) for c in range(len(headers))]
    for r in cells:
        out = []
        for c, cell in enumerate(r):
            last = c == len(r) - 1
            if c in right:
                out.append(cell.rjust(width[c]))
            else:
                out.append(cell if last else cell.ljust(width[c]))
        f.write("  ".join(out) + "\n")


def _service_json(s: ServiceInfo, now: int) -> dict:
    return {"name": s.name, "query": s.query, "state": s.state, "healthy": s.healthy, "total": s.total,
            "scheduled": s.scheduled, "generation": s.generation, "srv": s.srv, "panic": s.panic,
            "last_error": s.last_error, "age": _age(now, s.last_good) if s.last_good else None}


def _backend_json(b: BackendInfo, now: int) -> dict:
    return {"address": b.address, "port": b.port, "target": b.target, "priority": b.priority, "weight": b.weight,
            "weight_split": b.weight_split, "scheduled": b.scheduled, "health": b.health,
            "ttl": _remaining(now, b.ttl_expiry), "source": b.source, "checks": b.checks, "failures": b.failures,
            "consecutive_ok": b.consecutive_ok, "consecutive_fail": b.consecutive_fail, "latency_us": b.latency_us,
            "check_error": b.check_error,
            "last_check_age": _age(now, b.last_check) if b.last_check else None}


def _dump(o: object, f: TextIO) -> None:
    if f.isatty():
        f.write(json.dumps(o, indent=2, ensure_ascii=False) + "\n")
    else:
        f.write(json.dumps(o, separators=(",", ":"), ensure_ascii=False) + "\n")


def print_list(infos: List[ServiceInfo], now: int, as_json: bool, f: TextIO) -> None:
    if as_json:
        _dump([_service_json(s, now) for s in infos], f)
        return
    rows = [[s.name, s.state, f"{s.healthy}/{s.total}", str(s.generation),
             format_timespan(_age(now, s.last_good)) if s.last_good else "never", _flags(s)] for s in infos]
    print_table(("SERVICE", "STATE", "BACKENDS", "GEN", "AGE", "FLAGS"), rows, (2, 3, 4), f)


def _backend_row(b: BackendInfo, now: int) -> List[str]:
    ttl = _remaining(now, b.ttl_expiry)
    weight = f"{b.weight}/{b.weight_split}" if b.weight_split > 1 else str(b.weight)
    row = [b.address, str(b.port), b.target or "-", str(b.priority), weight, b.source,
           format_timespan(ttl) if ttl > 0 else "expired", "yes" if b.scheduled else "no", b.health]
    if b.checks == 0:
        return row + ["-"] * 5
    streak = f"fail:{b.consecutive_fail}" if b.consecutive_fail > 0 else f"ok:{b.consecutive_ok}"
    return row + [streak, str(b.checks), str(b.failures), format_latency(b.latency_us), b.check_error or "-"]


def print_show(snap: Snapshot, now: int, as_json: bool, f: TextIO, notify_rounds: int = 0,
               notify_last: int = 0, hash_entries: Optional[int] = None) -> None:
    if as_json:
        o = _service_json(snap, now)
        o["hash_table_size"] = hash_entries
        o["notify_rounds"] = notify_rounds
        o["last_notify_usec"] = notify_last
        o["backends"] = [_backend_json(b, now) for b in snap.backends]
        _dump(o, f)
        return
    f.write(f"    Service: {snap.name}\n")
    f.write(f"      Query: {snap.query or '-'}\n")
    f.write(f"      State: {snap.state}\n")
    panic = " (no healthy backend: picks use every backend)" if snap.panic else ""
    f.write(f"      Flags: {_flags(snap)}{panic}\n")
    f.write(f" Generation: {snap.generation}\n")
    if snap.last_good:
        f.write(f"  Last good: {format_timespan(_age(now, snap.last_good))} ago\n")
    else:
        f.write("  Last good: never\n")
    f.write(f" Last error: {snap.last_error or '-'}\n")
    if snap.next_refresh:
        f.write(f"    Refresh: in {format_timespan(_remaining(now, snap.next_refresh))}\n")
    if notify_rounds > 0 and notify_last > 0:
        ago = format_timespan(_age(now, notify_last / _USEC))
        f.write(f"     NOTIFY: last refresh {ago} ago, {notify_rounds} in all\n")
    f.write(f"   Backends: {snap.healthy} healthy, {snap.total} total, {snap.scheduled} picked\n")
    f.write("       Hash: off\n" if hash_entries is None else f"       Hash: maglev, {hash_entries} entries\n")
    if not snap.backends:
        return
    f.write("\n")
    print_table(("ADDRESS", "PORT", "TARGET", "PRIO", "WEIGHT", "SOURCE", "TTL", "PICK",
                 "HEALTH", "STREAK", "CHECKS", "FAILED", "LATENCY", "ERROR"),
                [_backend_row(b, now) for b in snap.backends], (1, 3, 4, 6, 10, 11, 12), f)
    if any(b.weight_split > 1 for b in snap.backends):
        f.write("\nWEIGHT W/N: the SRV record's weight W, split evenly over its N picked addresses.\n")


def warn_if_stale(cache: Cache, now: int) -> None:
    if not cache.is_stale():
        return
    try:
        di = cache.daemon_info()
    except Error:
        sys.stderr.write(f"{PROG}: warning: dnsdiscd stopped refreshing the cache, data may be out of date\n")
        return
    if di.stopped:
        sys.stderr.write(f"{PROG}: warning: dnsdiscd has stopped, data is no longer refreshed\n")
    else:
        sys.stderr.write(f"{PROG}: warning: dnsdiscd stopped refreshing the cache, last heartbeat "
                         f"{format_timespan(_heartbeat_age(now, di))} ago\n")


def _count(text: str) -> int:
    n = int(text)
    if not 1 <= n <= 0xFFFFFFFF:
        raise ValueError
    return n


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog=f"python3 -m {PROG}",
                                description="Inspect the dnsdiscd cache through libdnsdisc, as dnsdiscctl does.")
    p.add_argument("--cache", metavar="PATH", help="the cache file (default: $DNSDISC_CACHE, else /run/dnsdisc/cache)")
    p.add_argument("--json", action="store_true", help="print JSON (list, show)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("list", help="one line per service")
    sp = sub.add_parser("show", help="a service and its backends")
    sp.add_argument("service")
    pp = sub.add_parser("pick", help="print endpoints picked as ADDRESS:PORT")
    pp.add_argument("service")
    pp.add_argument("-n", "--count", type=_count, default=1, metavar="N", help="pick N times (default 1)")
    pp.add_argument("--hash", metavar="KEY", help="the endpoint for KEY by consistent hash (with -n: KEY, "
                    "KEY-1, ... KEY-(N-1)), as pick_hash() of the key's bytes")
    args = p.parse_args(argv)
    command = args.command or "list"
    if args.json and command == "pick":
        p.error("--json is for list and show")

    path = args.cache or os.environ.get(CACHE_ENV) or DEFAULT_CACHE
    try:
        cache = Cache(path)
    except Error as e:
        sys.stderr.write(f"{PROG}: cache {path}: {e.strerror}\n")
        return 1
    with cache:
        try:
            if command == "list":
                where = f"cache {path}"
                infos = sorted((s.info() for s in cache.services()), key=lambda i: i.name.encode())
                now = time.time_ns() // 1000
                warn_if_stale(cache, now)
                print_list(infos, now, args.json, sys.stdout)
            elif command == "show":
                where = f"service {args.service}"
                service = cache.service(args.service)
                snap = service.snapshot()
                counters = service.counters()
                hash_entries = service.hash_table_size()
                now = time.time_ns() // 1000
                warn_if_stale(cache, now)
                print_show(snap, now, args.json, sys.stdout, counters.get("notify_rounds", 0),
                           counters.get("notify_last_usec", 0), hash_entries)
            else:
                where = f"service {args.service}"
                service = cache.service(args.service)
                where = f"pick {args.service}"
                for i in range(args.count):
                    if args.hash is not None:
                        key = args.hash if i == 0 else f"{args.hash}-{i}"
                        try:
                            ep = service.pick_hash(os.fsencode(key))
                        except Error as e:
                            if e.errno == errno.EOPNOTSUPP:
                                where = f"pick {args.service} --hash"
                            raise
                    else:
                        ep = service.pick()
                    sys.stdout.write(f"{ep}\n")
        except Error as e:
            sys.stderr.write(f"{PROG}: {where}: {e.strerror}\n")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
