#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# setup.sh: install dnsdisc's Debian 12 dependencies (as root) and build the tree into build/.
# Usage: tools/setup.sh [--tests] [--no-build] [--list] [configure options...]   (BUILDDIR overrides build/)
#   --tests     also install what only the test suite uses (tests/run-all.sh passes it)
#   --no-build  install packages only
#   --list      print the package names (with --tests: all of them) and exit
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${BUILDDIR:-$top/build}

# Building dnsdisc, and the demo (tools/demo.sh: BIND 9 serves the example zone).
build_packages=(
        build-essential autoconf automake libtool pkg-config
        libc-ares-dev libldns-dev libsystemd-dev libcmocka-dev libinih-dev libjson-c-dev
        libxxhash-dev
        systemd
        bind9 bind9-utils bind9-dnsutils iproute2 procps
)
# What only the test suite uses (tests/run-all.sh): other DNS servers and tools, the
# sanitizer and valgrind runs, strace for test-security, tmux for dnsdiscctl watch, Go and
# grpc-go for the Go bindings (tests/test-go.sh). One concern a line.
packages=(
        unbound knot knot-dnsutils dnsperf ldnsutils
        mandoc python3 util-linux
        valgrind strace tmux
        clang libclang-rt-14-dev
        python3-pytest python3-requests python3-mypy flake8
        golang-go golang-google-grpc-dev
)

tests=0 build=1 list=0
while [ $# -gt 0 ]; do
        case $1 in
        --tests) tests=1 ;;
        --no-build) build=0 ;;
        --list) list=1 ;;
        *) break ;;
        esac
        shift
done
wanted=("${build_packages[@]}")
[ "$tests" -eq 1 ] && wanted+=("${packages[@]}")
if [ "$list" -eq 1 ]; then
        printf '%s\n' "${wanted[@]}"
        exit 0
fi

install_packages() {
        local missing=() p
        for p in "${wanted[@]}"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
        done
        [ ${#missing[@]} -eq 0 ] && return 0
        if [ "$(id -u)" -ne 0 ]; then
                echo "setup.sh: missing Debian packages (run as root to install): ${missing[*]}" >&2
                exit 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        # Debian's postinst scripts would start named/unbound/knot on port 53; the
        # tests start their own servers on high ports, so keep the packaged ones off.
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        echo "setup.sh: apt-get update (about a minute on a fresh machine)"
        apt-get update -qq
        echo "setup.sh: installing ${#missing[@]} packages and their dependencies (a few minutes on a fresh machine): ${missing[*]}"
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/dnsdisc-setup-apt.log 2>&1 ||
                { tail -n 30 /tmp/dnsdisc-setup-apt.log >&2; echo "setup.sh: apt-get install failed (log: /tmp/dnsdisc-setup-apt.log)" >&2; exit 1; }
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT
}

install_packages
[ "$build" -eq 1 ] || exit 0

cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
        echo "setup.sh: autoreconf"
        autoreconf -fi
fi
mkdir -p "$builddir"
cd "$builddir"
echo "setup.sh: configure in $builddir $*"
"$top/configure" -q --enable-werror "$@"
echo "setup.sh: make -j$(nproc) in $builddir (one to a few minutes on 2 cores)"
make -s -j"$(nproc)"
