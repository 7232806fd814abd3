#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# setup.sh: install dnsdisc's Debian 12 dependencies (as root) and build the tree into build/.
# Usage: tools/setup.sh [configure options...]   (BUILDDIR overrides build/)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${BUILDDIR:-$top/build}

# Build, test and demo dependencies; everything comes from Debian 12.
packages=(
        build-essential autoconf automake libtool pkg-config
        libc-ares-dev libldns-dev libsystemd-dev libcmocka-dev libinih-dev libjson-c-dev
        bind9 bind9-utils bind9-dnsutils unbound knot knot-dnsutils dnsperf
        systemd mandoc python3 iproute2 procps valgrind tmux clang libclang-rt-14-dev
        ldnsutils util-linux
        python3-pytest python3-requests python3-mypy flake8
)

install_packages() {
        local missing=() p
        for p in "${packages[@]}"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
        done
        [ ${#missing[@]} -eq 0 ] && return 0
        if [ "$(id -u)" -ne 0 ]; then
                echo "setup.sh: missing Debian packages (run as root to install): ${missing[*]}" >&2
                exit 1
        fi
        echo "setup.sh: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        # Debian's postinst scripts would start named/unbound/knot on port 53; the
        # tests start their own servers on high ports, so keep the packaged ones off.
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        apt-get update -qq
        apt-get install -y --no-install-recommends "${missing[@]}"
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT
}

install_packages

cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
        autoreconf -fi
fi
mkdir -p "$builddir"
cd "$builddir"
"$top/configure" --enable-werror "$@"
make -j"$(nproc)"
