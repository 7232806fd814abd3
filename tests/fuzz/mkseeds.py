#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# mkseeds.py: regenerates the committed seed corpora tests/fuzz/corpus-{records,cache,config}/.
#
# Usage: mkseeds.py MKCACHE [OUTDIR]   (MKCACHE: a built tests/mkcache; OUTDIR: tests/fuzz)
#
# DNS answers are built here byte by byte, so that seeds can hold what no
# well-behaved server library would emit (compression pointers anywhere, loops,
# unsolicited records). Cache files come from mkcache, then are compacted: the
# writer's files carry a 256 KiB heap that is mostly zeros, which mutations
# would waste their time in.
#
# Files named fuzz-* in the corpora are left alone: inputs found by fuzzing
# (tests/fuzz/run.sh), each kept because it reached code that the seeds and
# the smaller fuzz-* files before it did not.

import ipaddress
import os
import shutil
import struct
import subprocess
import sys
import tempfile

QNAME = "_http._tcp.svc.example.com"  # fuzz-records.c asks this
T_A, T_NS, T_CNAME, T_SOA, T_AAAA, T_SRV, T_OPT, T_TSIG = 1, 2, 5, 6, 28, 33, 41, 250


# ---------------------------------------------------------------- DNS wire form
class Packet:
    """A DNS message written front to back, compressing names against what is already written."""

    def __init__(self):
        self.buf = bytearray()
        self.names = {}  # lower-cased suffix (tuple of labels) -> offset

    def name(self, text, compress=True):
        """text: a name in dotted form, or a list of labels as bytes (any octets)."""
        if isinstance(text, list):
            labels = text
        else:
            labels = [label.encode() for label in text.rstrip(".").split(".")] if text not in ("", ".") else []
        for i in range(len(labels)):
            key = tuple(label.lower() for label in labels[i:])
            if compress and key in self.names:
                self.buf += struct.pack(">H", 0xC000 | self.names[key])
                return
            if len(self.buf) < 0x3FFF:
                self.names.setdefault(key, len(self.buf))
            self.buf += bytes([len(labels[i])]) + labels[i]
        self.buf += b"\0"


def rdata_of(p, rtype, data):
    """Appends the rdata (with its length) of a record to packet p."""
    at = len(p.buf)
    p.buf += b"\0\0"
    if isinstance(data, (bytes, bytearray)):
        p.buf += data  # raw rdata, possibly malformed
    elif rtype == T_A:
        p.buf += bytes(int(x) for x in data.split("."))
    elif rtype == T_AAAA:
        p.buf += ipaddress.IPv6Address(data).packed
    elif rtype in (T_CNAME, T_NS):
        p.name(data)
    elif rtype == T_SRV:
        prio, weight, port, target = data
        p.buf += struct.pack(">HHH", prio, weight, port)
        p.name(target, compress=False)  # RFC 2782: no compression of the target
    elif rtype == T_SOA:
        mname, rname, serial, refresh, retry, expire, minimum = data
        p.name(mname)
        p.name(rname)
        p.buf += struct.pack(">IIIII", serial, refresh, retry, expire, minimum)
    else:
        raise ValueError(rtype)
    struct.pack_into(">H", p.buf, at, len(p.buf) - at - 2)


def packet(qname=QNAME, qtype=T_SRV, an=(), ns=(), ar=(), rcode=0, tc=False, qr=True, ident=0x4242,
           qclass=1, opcode=0):
    """Records are (owner, type, ttl, data) or (owner, type, ttl, data, class)."""
    p = Packet()
    flags = (0x8000 if qr else 0) | (opcode << 11) | 0x0400 | (0x0200 if tc else 0) | 0x0100 | 0x0080 | rcode
    qd = 0 if qname is None else 1
    p.buf += struct.pack(">HHHHHH", ident, flags, qd, len(an), len(ns), len(ar))
    if qname is not None:
        p.name(qname)
        p.buf += struct.pack(">HH", qtype, qclass)
    for section in (an, ns, ar):
        for rr in section:
            owner, rtype, ttl, data = rr[:4]
            rclass = rr[4] if len(rr) > 4 else 1
            p.name(owner)
            p.buf += struct.pack(">HHI", rtype, rclass, ttl)
            rdata_of(p, rtype, data)
    return bytes(p.buf)


def soa(owner="example.com", ttl=300, minimum=60):
    return (owner, T_SOA, ttl, ("ns1.example.com", "hostmaster.example.com", 2024010101, 3600, 600, 86400, minimum))


def srv_seeds():
    q = QNAME
    glue = [("a.example.com", T_A, 300, "192.0.2.1"), ("b.example.com", T_AAAA, 300, "2001:db8::2"),
            ("c.example.com", T_A, 300, "192.0.2.3")]
    three = [(q, T_SRV, 300, (10, 60, 8080, "a.example.com")), (q, T_SRV, 300, (10, 30, 8080, "b.example.com")),
             (q, T_SRV, 60, (20, 10, 8081, "c.example.com"))]
    yield "srv-glue", packet(an=three, ar=glue + [("", T_OPT, 0, b"", 1232)])
    yield "srv-no-glue", packet(an=three[:1])
    yield "srv-cname-chain", packet(an=[(q, T_CNAME, 600, "svc.example.net"),
                                        ("svc.example.net", T_CNAME, 120, "_http._tcp.real.example.net"),
                                        ("_http._tcp.real.example.net", T_SRV, 300, (0, 0, 443, "a.example.com"))],
                                    ar=glue[:1])
    yield "srv-cname-only", packet(an=[(q, T_CNAME, 600, "elsewhere.example.org")], ns=[soa("example.org")])
    yield "srv-cname-loop", packet(an=[(q, T_CNAME, 60, "x.example.com"), ("x.example.com", T_CNAME, 60, q)])
    yield "srv-cname-deep", packet(an=[(q if i == 0 else f"c{i}.example.com", T_CNAME, 60 + i, f"c{i + 1}.example.com")
                                       for i in range(10)])
    yield "srv-dot", packet(an=[(q, T_SRV, 300, (0, 0, 0, "."))], ns=[soa()])
    yield "srv-dot-mixed", packet(an=[(q, T_SRV, 300, (0, 0, 0, ".")), three[0]])
    yield "srv-nodata-soa", packet(ns=[soa(ttl=3600, minimum=30)])
    yield "srv-nodata-no-soa", packet(ns=[("example.com", T_NS, 300, "ns1.example.com")])
    yield "srv-nxdomain-soa", packet(rcode=3, ns=[soa(ttl=900, minimum=0x80000001)])
    yield "srv-servfail", packet(rcode=2)
    yield "srv-refused", packet(rcode=5)
    yield "srv-tc", packet(tc=True, an=three[:2])
    yield "srv-tc-empty", packet(tc=True)
    yield "srv-unsolicited", packet(an=[("victim.example.com", T_A, 86400, "203.0.113.66"), three[0],
                                        ("_http._tcp.other.example.com", T_SRV, 300, (0, 0, 1, "evil.example.com"))],
                                    ar=[("victim.example.com", T_A, 86400, "203.0.113.66"),
                                        ("a.example.com", T_A, 300, "192.0.2.1", 3)] + glue[:1])
    yield "srv-mixed-case", packet(qname="_HTTP._Tcp.SVC.Example.COM",
                                   an=[("_http._TCP.svc.EXAMPLE.com", T_SRV, 300, (1, 1, 80, "A.Example.Com"))],
                                   ar=[("a.EXAMPLE.com", T_A, 300, "192.0.2.1")])
    yield "srv-ttl-top-bit", packet(an=[(q, T_SRV, 0x80000000, (0, 0, 80, "a.example.com"))],
                                    ar=[("a.example.com", T_A, 0xFFFFFFFF, "192.0.2.1")])
    yield "srv-escaped-target", packet(an=[(q, T_SRV, 300, (0, 0, 80, "a.example.com"))]).replace(
        b"\x01a\x07example", b"\x01\x00\x07exa.ple")
    yield "srv-long-target", packet(an=[(q, T_SRV, 300, (0, 0, 80, ".".join(["x" * 63] * 3) + ".example")),
                                        three[0]])
    # 189 octets that need \DDD escapes: too long once presented, skipped rather than fatal.
    yield "srv-escapes-too-long", packet(an=[(q, T_SRV, 300, (0, 0, 80, [b" " * 63] * 3 + [b"example"])), three[0]])
    many = [(q, T_SRV, 300, (i % 3, i, 1000 + i, f"h{i}.example.com")) for i in range(40)]
    yield "srv-40", packet(an=many, ar=[(f"h{i}.example.com", T_A, 300, f"192.0.2.{i + 1}") for i in range(40)])
    yield "srv-wrong-question-type", packet(qtype=T_A, an=three[:1])
    yield "srv-wrong-question-name", packet(qname="_http._tcp.other.example.com", an=three[:1])
    yield "srv-no-question", packet(qname=None, an=three[:1])
    yield "srv-not-response", packet(qr=False)
    yield "srv-notify-opcode", packet(opcode=4)
    yield "srv-bad-rdata", packet(an=[(q, T_SRV, 300, b"\x00\x01")])
    # A compression pointer to itself: the parser must not follow it forever.
    loop = bytearray(packet(an=[(q, T_SRV, 300, (0, 0, 80, "a.example.com"))]))
    loop[12 + len(QNAME) + 2 + 4:12 + len(QNAME) + 2 + 4 + 2] = b"\xc0" + bytes([12 + len(QNAME) + 2 + 4])
    yield "srv-pointer-loop", bytes(loop)


def addr_seeds():
    q = QNAME
    for name, qtype, rtype, addrs in (("a", T_A, T_A, ["192.0.2.10", "192.0.2.11"]),
                                      ("aaaa", T_AAAA, T_AAAA, ["2001:db8::10", "2001:db8::11"])):
        yield f"{name}-basic", packet(qtype=qtype, an=[(q, rtype, 60 + i, a) for i, a in enumerate(addrs)])
        yield f"{name}-cname", packet(qtype=qtype, an=[(q, T_CNAME, 300, "host.example.net"),
                                                       ("host.example.net", rtype, 30, addrs[0])])
        yield f"{name}-nodata", packet(qtype=qtype, ns=[soa()])
        yield f"{name}-nxdomain", packet(qtype=qtype, rcode=3, ns=[soa(ttl=10, minimum=3600)])
        yield f"{name}-wrong-type-data", packet(qtype=qtype, an=[(q, T_A if rtype == T_AAAA else T_AAAA, 60,
                                                                  "192.0.2.1" if rtype == T_AAAA else "2001:db8::1")])
    yield "a-short-rdata", packet(qtype=T_A, an=[(q, T_A, 60, b"\xc0\x00\x02")])
    yield "aaaa-short-rdata", packet(qtype=T_AAAA, an=[(q, T_AAAA, 60, b"\x20\x01\x0d\xb8")])


# ---------------------------------------------------------------- cache files
HEADER = struct.Struct("<8sHHIQQQIIQQ")  # dd_header up to heap_size (cache-def.h)
HEADER_SIZE, SLOT_SIZE = 512, 768

CACHE_SPECS = {
    "srv-weighted": """
service api query=_http._tcp.api.example.com srv
backend 192.0.2.1 8080 priority=10 weight=60 target=api-1.example.com
backend 192.0.2.2 8080 priority=10 weight=30 target=api-2.example.com
backend 2001:db8::3 8080 priority=10 weight=10 target=api-3.example.com
backend 192.0.2.9 8080 priority=20 weight=1 target=api-backup.example.com
""",
    "maglev": """
service cache query=_memcache._tcp.example.com srv hash-table-size=251
backend 192.0.2.50 11211 weight=1 target=mc-1.example.com
backend 192.0.2.51 11211 weight=3 target=mc-2.example.com
backend 2001:db8::52 11211 weight=1 target=mc-3.example.com
backend 192.0.2.53 11211 health=down target=mc-4.example.com
""",
    "host-dual-stack": """
service legacy query=legacy.example.com
backend 192.0.2.20 80
backend 2001:db8::20 80 ttl=5
""",
    "health-mixed": """
service web srv panic=on
backend 192.0.2.30 443 health=down checks=10 failures=10 fail=10 check-error=connrefused
backend 192.0.2.31 443 health=up checks=10 ok=10 latency-us=250
backend 192.0.2.32 443 health=unknown
""",
    "panic": """
service allbad srv panic=on
backend 192.0.2.40 80 health=down
backend 192.0.2.41 80 health=down
service nopanic srv panic=off
backend 192.0.2.42 80 health=down
""",
    "states": """
service pending state=pending
service negative state=negative error=nxdomain
service stale state=stale error=timeout last-good-ago=120
backend 192.0.2.50 80
service error state=error error=servfail
service down srv state=negative error=unavailable
""",
    "long-names": """
service %s query=%s srv
backend 192.0.2.60 1 target=%s
""" % ("n" * 127, ".".join(["q" * 63] * 3) + "." + "q" * 61, ".".join(["t" * 63] * 3) + "." + "t" * 61),
    "many-backends": "service big srv\n" + "".join(
        f"backend 10.0.{i // 250}.{i % 250 + 1} {1000 + i} priority={i % 4} weight={i % 7}\n" for i in range(64)),
}


def tsig_rdata(error=0, mac=b""):
    """TSIG rdata (RFC 8945 §4.2): hmac-sha256, a fixed time, fudge 300, the MAC, original ID, error."""
    alg = b"".join(bytes([len(label)]) + label for label in (b"hmac-sha256",)) + b"\0"
    return alg + struct.pack(">HIH", 0, 1700000000, 300) + struct.pack(">H", len(mac)) + mac + \
        struct.pack(">HHH", 0x4242, error, 0)


def update_seeds():
    """Answers to a DNS UPDATE of example.com (opcode 5), for update_wire_check() in fuzz-records."""
    z = "example.com"
    yield "update-noerror", packet(qname=z, qtype=T_SOA, opcode=5)
    yield "update-refused", packet(qname=z, qtype=T_SOA, opcode=5, rcode=5)
    yield "update-yxrrset", packet(qname=z, qtype=T_SOA, opcode=5, rcode=7)
    yield "update-badkey", packet(qname=z, qtype=T_SOA, opcode=5, rcode=9,
                                  ar=[("reg", T_TSIG, 0, tsig_rdata(error=17), 255)])
    yield "update-signed", packet(qname=z, qtype=T_SOA, opcode=5,
                                  ar=[("reg", T_TSIG, 0, tsig_rdata(mac=bytes(range(32))), 255)])


def compact(raw):
    """The live slots of a writer's file and their extents, re-laid out with no free space."""
    f = HEADER.unpack_from(raw, 0)
    (_, _, _, header_size, _, _, services_offset, service_size, n_slots, _, _) = f
    slots = []
    for i in range(n_slots):
        s = bytearray(raw[services_offset + i * service_size:services_offset + (i + 1) * service_size])
        incarnation, extent_offset, extent_size = struct.unpack_from("<QQI", s, 8)
        if incarnation:
            slots.append((s, raw[extent_offset:extent_offset + extent_size]))
    out = bytearray(raw[:header_size])
    heap_offset = (header_size + len(slots) * service_size + 63) & ~63
    heap = bytearray()
    body = bytearray()
    for s, extent in slots:
        struct.pack_into("<Q", s, 16, heap_offset + len(heap))
        heap += extent + b"\0" * (-len(extent) % 8)
        body += s
    out += body + b"\0" * (heap_offset - header_size - len(body)) + heap
    struct.pack_into("<Q", out, 16, len(out))  # file_size
    struct.pack_into("<QIIQQ", out, 32, header_size, service_size, len(slots), heap_offset, len(heap))
    struct.pack_into("<Q", out, 96, len(heap))  # heap_used
    return bytes(out)


def writer_scripts(data):
    """Changes a hostile writer makes to the first slot of data between rounds of reads (see fuzz-cache.c)."""
    def change(off, b):
        return struct.pack("<IB", off, len(b)) + b

    slot = HEADER_SIZE
    seq, gen, inc, extent = struct.unpack_from("<IIQQ", data, slot)
    nb, = struct.unpack_from("<H", data, slot + 28)
    flags = data[slot + 35]
    schedule = extent + nb * 96
    # A proper update, then the schedule rewritten behind the seqlock's back.
    yield "update", (change(slot, struct.pack("<II", seq + 2, gen + 1)) +
                     change(schedule, b"\xff\xff") + change(slot, struct.pack("<I", seq + 4)))
    # The slot reused for another service, retired, then back.
    yield "reuse", (change(slot + 8, struct.pack("<Q", inc + 1)) + change(slot + 35, bytes([flags | 2])) +
                    change(slot + 35, bytes([flags])))
    # The set shrunk to one backend: endpoints picked before go stale.
    yield "shrink", change(slot, struct.pack("<II", seq + 2, gen + 1)) + change(slot + 28, struct.pack("<HHH", 1, 1, 1))
    # A writer stuck mid-write, then done; then the file marked replaced and stopped.
    yield "torn", (change(slot, struct.pack("<I", seq + 1)) + change(slot, struct.pack("<I", seq + 2))
                   + change(64, b"\x03"))


def cache_seeds(mkcache):
    tmp = tempfile.mkdtemp(prefix="dnsdisc-seeds.")
    try:
        for name, spec in CACHE_SPECS.items():
            path = os.path.join(tmp, name)
            subprocess.run([mkcache, path], input=spec.encode(), check=True)
            with open(path, "rb") as f:
                data = compact(f.read())
            yield name, data
            if name == "srv-weighted":
                # Truncations: as a torn copy would leave them, and with the header claiming the shorter size.
                for cut in (HEADER_SIZE, HEADER_SIZE + SLOT_SIZE // 2, len(data) - 100):
                    yield f"{name}-cut-{cut}", data[:cut]
                    shrunk = bytearray(data[:cut])
                    struct.pack_into("<Q", shrunk, 16, cut)
                    yield f"{name}-cut-{cut}-consistent", bytes(shrunk)
                foreign = bytearray(data)
                struct.pack_into("<H", foreign, 8, 2)  # version_major
                yield f"{name}-major-2", bytes(foreign)
                odd = bytearray(data)
                struct.pack_into("<I", odd, HEADER_SIZE, 1)  # a writer that died mid-write
                yield f"{name}-seq-odd", bytes(odd)
                for script, changes in writer_scripts(data):
                    yield f"{name}-writer-{script}", data + changes
    finally:
        shutil.rmtree(tmp)


# ---------------------------------------------------------------- config files
def config_seeds(top):
    with open(os.path.join(top, "docs/examples/dnsdisc.conf"), "rb") as f:
        yield "example", f.read()
    yield "every-key", b"""[daemon]
cache = /run/dnsdisc/cache
servers = 127.0.0.1 127.0.0.2:5353 [::1] [::1]:53
query-timeout = 1.5s
query-tries = 3
max-inflight = 128
max-checks-inflight = 256
log-level = debug
min-ttl = 5s
max-ttl = 1h 30min
stale-ttl = 10min
negative-confirm = 2
family = any
max-backends = 64
check = tcp
check-port = 8081
check-interval = 5s
check-timeout = 250ms
rise = 2
fall = 3
panic = on

[service api]
srv = _http._tcp.api.example.com.
min-ttl = 1s
max-ttl = 2d
stale-ttl = 0
negative-confirm = 1
family = ipv6
max-backends = 1024
check = http /healthz?full=1
check-port = 80
check-interval = 2s
check-timeout = 1s
rise = 1
fall = 1
panic = off

[service legacy]
host = Legacy.Example.COM
port = 8080
family = ipv4
check = none
"""
    yield "comments-crlf-bom", (b"\xef\xbb\xbf# leading comment\r\n; another\r\n[daemon]\r\n"
                                b"log-level = info ; inline\r\n  [service a]  \r\n"
                                b"srv = _a._tcp.example.com # trailing\r\n")
    yield "long-line", (b"[service long]\nhost = " + b".".join([b"h" * 63] * 3) + b"." + b"h" * 61 +
                        b"\nport = 1\n" + b"[daemon]\ncache = /" + b"c" * 300 + b"\n")
    yield "escaped-names", b"[service esc]\nsrv = _x._tcp.a\\.b.\\065\\255.example.com\n"
    yield "duplicate", b"[service a]\nsrv = _a._tcp.x\n[service a]\nsrv = _b._tcp.x\n"
    yield "conflicts", b"[daemon]\nmin-ttl = 2h\nmax-ttl = 1h\n[service a]\nsrv = a.x\nhost = b.x\nport = 1\n"
    yield "bad-values", b"[daemon]\nquery-tries = 0\nservers = ::1\nquery-timeout = 99999999999999999999h\n"
    yield "errors", b"key = outside\n[nosection\n[service]\n[service bad name]\n[other]\nnot a key line\n"
    yield "inherit", (b"[service s]\nsrv = _s._tcp.example.com\n[daemon]\ncheck = http /late\n"
                      b"check-interval = 1s\ncheck-timeout = 999ms\n")
    yield "register", b"""[register api]
srv = _http._tcp.api.example.com
target = host1.example.com
address = 192.0.2.10, 2001:db8::10
port = 8080
priority = 10
weight = 100
ttl = 30s
refresh = 2min
check = http /healthz
check-port = 8081
check-interval = 2s
check-timeout = 1s
rise = 2
fall = 3
server = [2001:db8::53]:53
zone = example.com
key = reg:hmac-sha256:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==
deregister-on-stop = no

[register bad]
port = 0
key-file = relative
address = 300.1.1.1
"""


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("Usage: mkseeds.py MKCACHE [OUTDIR]")
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.path.dirname(os.path.dirname(here))
    out = sys.argv[2] if len(sys.argv) == 3 else here
    for corpus, seeds in (("records", [*srv_seeds(), *addr_seeds(), *update_seeds()]),
                          ("cache", list(cache_seeds(sys.argv[1]))),
                          ("config", list(config_seeds(top)))):
        d = os.path.join(out, "corpus-" + corpus)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            if not old.startswith("fuzz-"):
                os.unlink(os.path.join(d, old))
        for name, data in seeds:
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print(f"{d}: {len(seeds)} seeds, {sum(len(s) for _, s in seeds)} bytes")


if __name__ == "__main__":
    main()
