# SPDX-License-Identifier: LGPL-2.1-or-later
# test_layout.py: the ctypes structures have the sizes and offsets of <dnsdisc.h>, as a C compiler lays them out.
import ctypes
import subprocess
from pathlib import Path

from conftest import TOP_SRCDIR

from dnsdisc import _lib

STRUCTS = {
    "dnsdisc_endpoint": _lib.Endpoint,
    "dnsdisc_service_info": _lib.ServiceInfo,
    "dnsdisc_backend": _lib.Backend,
    "dnsdisc_daemon_info": _lib.DaemonInfo,
}


def c_layout(tmp_path: Path) -> dict:
    """{(struct, field): offset, (struct, None): size} from a program built against the header."""
    lines = ["#include <stdio.h>", "#include <stddef.h>", "#include <dnsdisc.h>", "int main(void) {"]
    for cname, py in STRUCTS.items():
        lines.append(f'printf("{cname} - %zu\\n", sizeof({cname}));')
        for field, *_ in py._fields_:
            if field != "_align":
                lines.append(f'printf("{cname} {field} %zu\\n", offsetof({cname}, {field}));')
    lines += ["return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    subprocess.run(["cc", "-Wall", "-Werror", "-I", str(TOP_SRCDIR / "libclient"), "-o", str(exe), str(src)],
                   check=True)
    out = {}
    for line in subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines():
        s, f, v = line.split()
        out[(s, None if f == "-" else f)] = int(v)
    return out


def test_structures_match_the_header(tmp_path):
    c = c_layout(tmp_path)
    for cname, py in STRUCTS.items():
        assert ctypes.sizeof(py) == c[(cname, None)], cname
        for field, *_ in py._fields_:
            if field != "_align":
                assert getattr(py, field).offset == c[(cname, field)], f"{cname}.{field}"


def test_every_prototype_is_exported():
    lib = _lib.load()
    for name in _lib.PROTOTYPES:
        assert hasattr(lib, name), name


def test_header_declares_every_bound_function():
    header = (TOP_SRCDIR / "libclient" / "dnsdisc.h").read_text()
    for name in list(_lib.PROTOTYPES) + list(_lib.OPTIONAL):
        if name in _lib.OPTIONAL and f"{name}(" not in header:
            continue
        assert f"{name}(" in header, name
