#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-install.sh: make install stays inside its prefix, places the configuration at one sysconfdir everywhere, and keeps an existing dnsdisc.conf.
source "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

# configure's values, as the Makefile holds them (unexpanded: ${prefix}/etc). Not from
# config.status, which splits a long value (a deep build path) over several lines.
mk=$top_builddir/Makefile
[ -f "$mk" ] || skip_all "no Makefile in $top_builddir"
var() { sed -n "s/^$1 = //p" "$mk" | head -n 1; }
prefix=$(var prefix)
[ -n "$prefix" ] || { echo "Bail out! no prefix in $mk"; exit 1; }
exec_prefix=$(var exec_prefix)
datarootdir=$(var datarootdir)
eval "exec_prefix=\"$exec_prefix\"; datarootdir=\"$datarootdir\""
eval "sysconfdir=\"$(var sysconfdir)\"; sbindir=\"$(var sbindir)\""
eval "unitdir=\"$(var systemdsystemunitdir)\"; tmpfilesdir=\"$(var tmpfilesdir)\"; sysusersdir=\"$(var sysusersdir)\""
diag "prefix $prefix, sysconfdir $sysconfdir, unit $unitdir, tmpfiles $tmpfilesdir, sysusers $sysusersdir"

stage=$TESTDIR/stage
MAKE=${MAKE:-make}
$MAKE -s --no-print-directory -C "$top_builddir" install DESTDIR="$stage" >"$TESTDIR/install.out" 2>&1
ok $? "make install DESTDIR=... succeeds ($(tail -n 1 "$TESTDIR/install.out"))"

# Inside the prefix, or (a distribution build) in the sysconfdir and systemd's own
# directories that configure chose for it; never anywhere else.
allowed=("$prefix/")
case $sysconfdir/ in "$prefix"/*) ;; *) allowed+=("$sysconfdir/") ;; esac
for d in "$unitdir" "$tmpfilesdir" "$sysusersdir"; do
        case $d/ in "$prefix"/*) ;; *) allowed+=("$d/") ;; esac
done
outside=$(cd "$stage" && find . ! -type d | sed 's|^\.||' | while read -r f; do
        in=0
        for a in "${allowed[@]}"; do case $f in "$a"*) in=1 ;; esac; done
        [ "$in" -eq 1 ] || echo "$f"
done)
[ -z "$outside" ]
ok $? "every installed file is under ${allowed[*]} (outside: ${outside:-none})"
if [ "${#allowed[@]}" -eq 1 ]; then
        for d in "$unitdir" "$tmpfilesdir" "$sysusersdir"; do
                case $d/ in "$prefix"/*) ;; *) false ;; esac
                ok $? "$d is under the prefix $prefix"
        done
fi

# One sysconfdir: the unit's -c, the daemon's default, tmpfiles' drop-in directory,
# the installed man pages and the sample's location agree.
conf=$sysconfdir/dnsdisc/dnsdisc.conf
grep -qx "ExecStart=$sbindir/dnsdiscd -c $conf" "$stage$unitdir/dnsdiscd.service"
ok $? "the unit runs dnsdiscd -c $conf ($(grep '^ExecStart=' "$stage$unitdir/dnsdiscd.service"))"
"$DNSDISCD" --help 2>&1 | grep -qF "$conf"
ok $? "dnsdiscd's built-in default is $conf"
grep -qx "d $sysconfdir/dnsdisc/conf.d 0755 root root -" "$stage$tmpfilesdir/dnsdisc.conf"
ok $? "tmpfiles makes $sysconfdir/dnsdisc/conf.d"
[ -f "$stage$sysusersdir/dnsdisc.conf" ]
ok $? "the sysusers snippet is installed in $sysusersdir"
man=$(find "$stage" -name 'dnsdisc.conf.5' -o -name 'dnsdiscd.8' -o -name 'dnsdiscctl.1' | sort)
[ "$(wc -l <<<"$man")" -eq 3 ] && grep -qF "$sysconfdir/dnsdisc" $man &&
        ! sed "s|$sysconfdir/dnsdisc||g" $man | grep -q '/etc/dnsdisc'

ok $? "the installed man pages name $sysconfdir/dnsdisc, no other configuration directory"

# The sample: commented, valid as it is and with every commented key taken in.
sample=$stage$conf
[ -f "$sample" ] && "$DNSDISCD" --check-config -c "$sample" >"$TESTDIR/cc.out" 2>&1
ok $? "the installed sample passes check-config ($(tail -n 1 "$TESTDIR/cc.out"))"
sed -e 's/^#\([a-z][a-z-]* = \)/\1/' -e 's/^#\(\[service \)/\1/' "$sample" >"$TESTDIR/uncommented.conf"
n_keys=$(grep -c '^[a-z][a-z-]* = ' "$TESTDIR/uncommented.conf")
"$DNSDISCD" --check-config -c "$TESTDIR/uncommented.conf" >"$TESTDIR/cc2.out" 2>&1 && [ "$n_keys" -ge 20 ]
ok $? "its $n_keys commented settings are valid too ($(tail -n 1 "$TESTDIR/cc2.out"))"

# An existing configuration is kept by a new install, and by uninstall.
echo '# mine' >>"$sample"
cp "$sample" "$TESTDIR/mine.conf"
$MAKE -s --no-print-directory -C "$top_builddir" install DESTDIR="$stage" >"$TESTDIR/install2.out" 2>&1
ok $? "a second make install succeeds"
cmp -s "$sample" "$TESTDIR/mine.conf"
ok $? "it keeps the edited $conf"
$MAKE -s --no-print-directory -C "$top_builddir" uninstall DESTDIR="$stage" >"$TESTDIR/uninstall.out" 2>&1
left=$(cd "$stage" && find . ! -type d | sed 's|^\.||')
[ "$left" = "$conf" ]
ok $? "make uninstall removes everything but the edited configuration (left: $(tr '\n' ' ' <<<"$left"))"
done_testing
