# SPDX-License-Identifier: LGPL-2.1-or-later
# test_lint.py: flake8 and mypy (Debian's flake8 and python3-mypy) find nothing in the binding.
import subprocess
import sys

from conftest import HERE, TOP_SRCDIR

PACKAGE = HERE.parent


def run(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=PACKAGE, capture_output=True, text=True, timeout=300)


def test_flake8_finds_nothing():
    r = run("flake8", "dnsdisc", "tests", "bench", str(TOP_SRCDIR / "docs" / "examples" / "python"))
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_finds_nothing():
    r = run("mypy", "--cache-dir", "/dev/null", "dnsdisc")
    assert r.returncode == 0, r.stdout + r.stderr
