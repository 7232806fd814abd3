#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# dd-check.py: what DNS says a service's set is, what dnsdiscd published, and bounded waits on the latter.
"""
Backend sets are compared as canonical lines, one per backend, sorted:
    SRV services:  "PRIO WEIGHT PORT ADDRESS TARGET"
    host services: "PORT ADDRESS TARGET"
with addresses in Python's canonical form and names lowercased without the
trailing dot, so a set computed from a zone compares equal to a published one.

  dd-check.py expect ZONEFILE srv NAME [FAMILY]
  dd-check.py expect ZONEFILE host NAME PORT [FAMILY]
      The set the zone defines (presentation format, absolute names: a
      fakedns zone or `dig AXFR` output), CNAMEs followed.
  dd-check.py cache SERVICE
      The set published in the cache ($DD_CACHE, read with $DNSDISCCTL --json).
  dd-check.py snap SERVICE...
      One line per service: its name, generation and a digest of its set.
  dd-check.py get SERVICE EXPR
      Print EXPR evaluated with d = the service's JSON (None when absent).
  dd-check.py wait TIMEOUT_S T0_NS SERVICE EXPR
      Poll the cache every 50 ms until EXPR is true; print the milliseconds
      elapsed since T0_NS (CLOCK_REALTIME ns, as `date +%s%N`). Exit 1 with
      the last value of EXPR on stderr when TIMEOUT_S (counted from now) runs out.
  dd-check.py waitall TIMEOUT_S T0_NS EXPR SERVICE...
      The same for several services at once, polling `dnsdiscctl list` (so
      EXPR sees no backends): prints "SERVICE MS" as each one gets there, in
      that order; exit 1 if any did not in time.
  dd-check.py trace TIMEOUT_S T0_NS SERVICE EXPR
      Poll as wait does, printing each snapshot until EXPR holds (that one
      included): "START_MS END_MS STATE ERROR TOTAL DIGEST", the ms since T0_NS
      before and after the read, and a digest of the set (as snap). State, error
      and set come from one read, so they are consistent with each other; the
      read happened between START and END. Exit 1 when TIMEOUT_S runs out.

EXPR is Python over d, with helpers: cset(d) (canonical lines), lines(PATH)
(a file's lines, sorted), state(d), total(d), gen(d), err(d).
"""
import hashlib
import ipaddress
import json
import os
import subprocess
import sys
import time


def norm_name(n):
    return n.rstrip('.').lower()


def norm_addr(a):
    return str(ipaddress.ip_address(a))


def load_zone(path):
    """(name, TYPE) -> list of rdata field lists."""
    rrs = {}
    with open(path) as f:
        for line in f:
            line = line.split(';', 1)[0].strip()
            if not line or line.startswith('$'):
                continue
            fields = line.split()
            # name TTL CLASS TYPE RDATA...
            if len(fields) < 5 or fields[2].upper() != 'IN':
                continue
            rrs.setdefault((norm_name(fields[0]), fields[3].upper()), []).append(fields[4:])
    return rrs


def follow(rrs, name, rtype):
    """Records of rtype at the end of name's CNAME chain (bounded like a resolver)."""
    for _ in range(16):
        if (name, rtype) in rrs:
            return rrs[(name, rtype)]
        if (name, 'CNAME') not in rrs:
            return []
        name = norm_name(rrs[(name, 'CNAME')][0][0])
    return []


def addresses(rrs, name, family):
    out = []
    if family in ('any', 'ipv4'):
        out += [norm_addr(r[0]) for r in follow(rrs, name, 'A')]
    if family in ('any', 'ipv6'):
        out += [norm_addr(r[0]) for r in follow(rrs, name, 'AAAA')]
    return out


def expect(args):
    rrs = load_zone(args[0])
    kind, name = args[1], norm_name(args[2])
    lines = set()
    if kind == 'srv':
        family = args[3] if len(args) > 3 else 'any'
        srv = follow(rrs, name, 'SRV')
        if len(srv) == 1 and srv[0][3] == '.':
            return []  # RFC 2782: explicitly unavailable
        for prio, weight, port, target in srv:
            t = norm_name(target)
            for a in addresses(rrs, t, family):
                lines.add(f'{int(prio)} {int(weight)} {int(port)} {a} {t}')
    else:
        port = int(args[3])
        family = args[4] if len(args) > 4 else 'any'
        for a in addresses(rrs, name, family):
            lines.add(f'{port} {a} {name}')
    return sorted(lines)


def show(service):
    r = subprocess.run([os.environ['DNSDISCCTL'], '--cache', os.environ['DD_CACHE'], '--json', 'show', service],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)


def listing():
    r = subprocess.run([os.environ['DNSDISCCTL'], '--cache', os.environ['DD_CACHE'], '--json', 'list'],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10)
    return {s['name']: s for s in json.loads(r.stdout)} if r.returncode == 0 else {}


def cset(d):
    if not d:
        return []
    out = []
    for b in d['backends']:
        a, t = norm_addr(b['address']), norm_name(b['target'])
        if d['srv']:
            out.append(f"{b['priority']} {b['weight']} {b['port']} {a} {t}")
        else:
            out.append(f"{b['port']} {a} {t}")
    return sorted(out)


def lines(path):
    with open(path) as f:
        return sorted(line.rstrip('\n') for line in f if line.strip())


def state(d):
    return d['state'] if d else None


def total(d):
    return d['total'] if d else None


def gen(d):
    return d['generation'] if d else None


def err(d):
    return d['last_error'] if d else None


def evaluate(expr, d):
    env = dict(d=d, cset=cset, lines=lines, state=state, total=total, gen=gen, err=err)
    return eval(expr, env)


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == 'expect':
        print('\n'.join(expect(args)))
        return 0
    if cmd == 'cache':
        print('\n'.join(cset(show(args[0]))))
        return 0
    if cmd == 'snap':
        for service in args:
            d = show(service)
            digest = hashlib.sha256('\n'.join(cset(d)).encode()).hexdigest()[:12]
            print(f'{service} gen={gen(d)} state={state(d)} set={digest}')
        return 0
    if cmd == 'get':
        v = evaluate(args[1], show(args[0]))
        print(v if isinstance(v, str) else json.dumps(v))
        return 0
    if cmd == 'wait':
        limit, t0, service, expr = float(args[0]), int(args[1]), args[2], args[3]
        end = time.monotonic() + limit
        while True:
            d = show(service)
            v = evaluate(expr, d)
            if v:
                print((time.time_ns() - t0) // 1000000)
                return 0
            if time.monotonic() >= end:
                print(f'dd-check: timed out after {limit} s waiting for {service}: {expr}; '
                      f'state={state(d)} total={total(d)} error={err(d)} set={cset(d)}',
                      file=sys.stderr)
                return 1
            time.sleep(0.05)
    if cmd == 'trace':
        limit, t0, service, expr = float(args[0]), int(args[1]), args[2], args[3]
        end = time.monotonic() + limit
        while True:
            start_ms = (time.time_ns() - t0) // 1000000
            d = show(service)
            end_ms = (time.time_ns() - t0) // 1000000
            digest = hashlib.sha256('\n'.join(cset(d)).encode()).hexdigest()[:12]
            print(start_ms, end_ms, state(d), err(d), total(d), digest, flush=True)
            if evaluate(expr, d):
                return 0
            if time.monotonic() >= end:
                return 1
            time.sleep(0.05)
    if cmd == 'waitall':
        limit, t0, expr, pending = float(args[0]), int(args[1]), args[2], list(args[3:])
        end = time.monotonic() + limit
        while pending:
            services = listing()
            for service in list(pending):
                if evaluate(expr, services.get(service)):
                    print(service, (time.time_ns() - t0) // 1000000, flush=True)
                    pending.remove(service)
            if pending and time.monotonic() >= end:
                for service in pending:
                    d = services.get(service)
                    print(f'dd-check: timed out after {limit} s waiting for {service}: {expr}; '
                          f'state={state(d)} total={total(d)} error={err(d)}', file=sys.stderr)
                return 1
            if pending:
                time.sleep(0.05)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
