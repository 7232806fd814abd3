#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# fresh-root.sh: rehearse the README's two commands on a fresh minimal Debian 12, checkout in a 0700 home at a deep path.
#
# Usage: bash tests/fresh-root.sh [--rebuild] [--keep] [--no-demo] [--no-tests] [--base-only]
#   As root, on a machine with debootstrap and the Debian mirror reachable (the
#   first bookworm source of /etc/apt/sources.list*). Not part of the test
#   command: the first run needs a few minutes for debootstrap, then the packages
#   and the whole suite run inside (about 25 minutes on 2 cores).
#   It builds a minbase Debian 12 root once (WORKDIR/base; --rebuild redoes it),
#   copies it to WORKDIR/root, unpacks this tree (its files as git sees them,
#   uncommitted changes included) under /root (mode 0700) at a deep path, and
#   runs, as root inside a chroot whose / is a mount point of its own:
#       bash tools/demo.sh            (--no-demo skips it)
#       CI=true bash tests/run-all.sh (--no-tests skips it)
#   The logs stay in WORKDIR (default /var/tmp/dnsdisc-fresh-root); each
#   command's last lines and exit status are printed. --keep keeps WORKDIR/root.
#   --base-only: build the debootstrap root if needed, print its path, stop
#   (tests/systemd-boot.sh starts from it).
# Environment: WORKDIR; MIRROR (a Debian mirror URL); RUN_ENV (extra VAR=value
#   words for the test command, e.g. "FUZZ_SECONDS=10").
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
workdir=${WORKDIR:-/var/tmp/dnsdisc-fresh-root}
rebuild=0 keep=0 demo=1 tests=1 base_only=0
for arg in "$@"; do
        case $arg in
        --rebuild) rebuild=1 ;;
        --keep) keep=1 ;;
        --no-demo) demo=0 ;;
        --no-tests) tests=0 ;;
        --base-only) base_only=1 ;;
        -h | --help) sed -n '3,20s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "fresh-root.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
        esac
done
say() { printf '[fresh-root %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "FAILED: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mounts)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"

# The mirror apt already uses: the URI of the first source with a bookworm suite
# (one-line sources.list or deb822 .sources).
find_mirror() {
        local f
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
                [ -f "$f" ] && awk '$1 == "deb" && $0 ~ / bookworm( |$)/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' "$f"
        done
        for f in /etc/apt/sources.list.d/*.sources; do
                [ -f "$f" ] && awk 'BEGIN { RS = ""; FS = "\n" } {
                        uri = ""; ok = 0
                        for (i = 1; i <= NF; i++) {
                                if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
                                if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) ok = 1
                        }
                        if (ok && uri != "") print uri
                }' "$f"
        done
}
mirror=${MIRROR:-$(find_mirror | head -n 1)}
[ -n "$mirror" ] || die "no bookworm source in /etc/apt/sources.list*: set MIRROR"

base=$workdir/base
root=$workdir/root
mkdir -p "$workdir"
if [ "$rebuild" -eq 1 ] || [ ! -x "$base/bin/bash" ] || [ ! -f "$base/.complete" ]; then
        rm -rf "$base"
        say "debootstrap --variant=minbase bookworm from $mirror (a few minutes; log: $workdir/debootstrap.log)"
        debootstrap --variant=minbase bookworm "$base" "$mirror" >"$workdir/debootstrap.log" 2>&1 ||
                { tail -n 20 "$workdir/debootstrap.log"; die "debootstrap failed"; }
        touch "$base/.complete"
fi
if [ "$base_only" -eq 1 ]; then
        echo "$base"
        exit 0
fi

mounts=()
cleanup() {
        local i
        for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null; done
        [ "$keep" -eq 1 ] || rm -rf --one-file-system "$root"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mnt() { # mnt TARGET MOUNT-ARGS...
        mount "${@:2}" "$1" && mounts+=("$1")
}

say "copying the base root to $root"
rm -rf --one-file-system "$root"
cp -a "$base" "$root" || die "cannot copy $base"
rm -f "$root/.complete"
# What a fresh machine's apt uses: the same mirror, with updates and security where the host has them.
{
        echo "deb $mirror bookworm main"
        echo "deb $mirror bookworm-updates main"
} >"$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

# A 0700 home and a deep path (about 150 characters), as a user's checkout would be.
home=/root
rel=src/github.com/some-organisation/infrastructure/service-discovery/a-rather-long-directory-name/and-another-level/dnsdisc
dest=$home/$rel
mkdir -p "$root$dest"
chmod 0700 "$root$home"
say "unpacking the tree at $dest (home mode $(stat -c %a "$root$home"))"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$top" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$root$dest" ||
                die "cannot unpack the tree"
else
        tar -C "$top" --exclude='./build*' -cf - . | tar -xf - -C "$root$dest" || die "cannot unpack the tree"
fi

# / of the chroot is a mount point of its own, private, as on a real machine (unshare's
# private namespaces need that), with the usual kernel file systems.
mnt "$root" --bind "$root" || die "cannot bind-mount $root"
mount --make-private "$root"
mnt "$root/proc" -t proc proc || die "cannot mount proc"
mnt "$root/sys" --rbind /sys && mount --make-rslave "$root/sys"
mnt "$root/dev" --rbind /dev && mount --make-rslave "$root/dev"
mnt "$root/run" -t tmpfs -o mode=0755 tmpfs
mnt "$root/tmp" -t tmpfs -o mode=1777 tmpfs

inside() { # inside LOG COMMAND: run COMMAND with bash -lc in the chroot, output to LOG
        chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                LANG=C.UTF-8 TERM=dumb bash -c "$2" </dev/null >"$1" 2>&1
}
status=0
if [ "$demo" -eq 1 ]; then
        say "bash tools/demo.sh (apt, the build and the demo: about 2 minutes; log: $workdir/demo.log)"
        inside "$workdir/demo.log" "cd '$dest' && bash tools/demo.sh"
        rc=$?
        tail -n 12 "$workdir/demo.log" | sed 's/^/  | /'
        say "demo.sh exited $rc"
        [ "$rc" -eq 0 ] || status=1
fi
if [ "$tests" -eq 1 ]; then
        say "CI=true bash tests/run-all.sh (about 25 minutes on 2 cores; log: $workdir/tests.log)"
        inside "$workdir/tests.log" "cd '$dest' && env CI=true ${RUN_ENV:-} bash tests/run-all.sh"
        rc=$?
        grep -E '^(=== |check-skips|  skipped|failed:|[a-z/.-]+: [0-9]+ passed)' "$workdir/tests.log" | sed 's/^/  | /'
        say "run-all.sh exited $rc; its summary:"
        tail -n 1 "$workdir/tests.log"
        [ "$rc" -eq 0 ] || status=1
fi
exit "$status"
