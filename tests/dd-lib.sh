# SPDX-License-Identifier: LGPL-2.1-or-later
# dd-lib.sh: run dnsdiscd in the integration tests and read what it publishes (sourced after lib.sh; bash).
#
#   dd_conf_header PORT >conf; echo "[service x]..." >>conf
#   dd_start conf                    # DD_PID; stderr appended to $DD_LOG
#   dd_wait_ready                    # this run's first round of every service is over
#   dd_get api 'state(d)'            # Python over `dnsdiscctl --json show api` (tests/dd-check.py)
#   ms=$(dd_wait 5 "$t0" api 'state(d) == "ok"')   # bounded poll; ms since t0
#   dd_stop [SIGNAL]                 # default TERM; waits (bounded), then sets DD_RC

# dd_need [PROGRAM...]: skip the whole script unless dnsdiscd, dnsdiscctl and each PROGRAM were
# built and python3 (dd-check.py) is installed.
dd_need() {
        need_built "$DNSDISCD" "$DNSDISCCTL" "$@"
        command -v python3 >/dev/null || skip_all "python3 not installed"
}

DD_CACHE=$TESTDIR/cache
DD_LOG=$TESTDIR/dnsdiscd.log
DD_CHECK="python3 $top_srcdir/tests/dd-check.py"
DD_PID=
DD_RC=
: >"$DD_LOG"
export DNSDISCCTL DD_CACHE

now_ns() { date +%s%N; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
# sleep_until T0_NS MS: sleep until MS ms after T0 (at once if that has passed).
sleep_until() {
        local left=$(($2 - $(ms_since "$1")))
        [ "$left" -gt 0 ] && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
        return 0
}

# dd_conf_header PORT [key=value...]: a [daemon] section for a server on
# 127.0.0.1:PORT with short timeouts; each key=value replaces a default.
dd_conf_header() {
        local port=$1 kv
        shift
        declare -A kv_of=(
                [cache]=$DD_CACHE [servers]=127.0.0.1:$port [query-timeout]=500ms [query-tries]=2
                [min-ttl]=1s [max-ttl]=1h [stale-ttl]=10min [negative-confirm]=2 [log-level]=debug
        )
        for kv in "$@"; do kv_of[${kv%%=*}]=${kv#*=}; done
        echo "[daemon]"
        for kv in cache servers query-timeout query-tries min-ttl max-ttl stale-ttl negative-confirm log-level; do
                echo "$kv = ${kv_of[$kv]}"
        done
}

_dd_log_mark=0

# dd_start CONF: start dnsdiscd on CONF, its stderr appended to $DD_LOG; 0 once
# it has opened the cache and started its services, 1 if it died or took over 10 s.
dd_start() {
        _dd_log_mark=$(wc -l <"$DD_LOG")
        "$DNSDISCD" -c "$1" </dev/null >>"$DD_LOG" 2>&1 &
        DD_PID=$!
        DD_RC=
        _dd_wait_log 10 'Started: ' && return 0
        diag "dnsdiscd did not start; the end of its log:"
        diag "$(tail -n 20 "$DD_LOG")"
        return 1
}

# The lines of $DD_LOG written since the last dd_start.
dd_log() { tail -n +"$((_dd_log_mark + 1))" "$DD_LOG"; }

_dd_wait_log() { # _dd_wait_log TIMEOUT ERE: this run logged a line matching ERE
        local limit=$1 re=$2 end
        end=$(($(date +%s%N) + limit * 1000000000))
        while [ "$(date +%s%N)" -lt "$end" ]; do
                dd_log | grep -Eq -- "$re" && return 0
                kill -0 "$DD_PID" 2>/dev/null || return 1
                sleep 0.05
        done
        return 1
}

# dd_wait_ready [TIMEOUT]: the daemon said Ready (first round of every service over).
dd_wait_ready() { _dd_wait_log "${1:-10}" 'Ready: '; }

# dd_stop [SIGNAL]: signal the daemon (TERM by default), wait up to 5 s for it,
# then KILL. DD_RC is its exit status. A no-op when it is not running.
dd_stop() {
        local sig=${1:-TERM} i
        [ -n "$DD_PID" ] || return 0
        # stderr off: bash reports a job killed by a signal ("Killed") on it.
        {
                kill -"$sig" "$DD_PID"
                for ((i = 0; i < 50; i++)); do
                        kill -0 "$DD_PID" || break
                        sleep 0.1
                done
                kill -0 "$DD_PID" && kill -KILL "$DD_PID"
                wait "$DD_PID"
                DD_RC=$?
        } 2>/dev/null
        DD_PID=
        return 0
}
# DD_KEEP=DIR: copy the test directory (logs, cache, zones) there at the very end, for debugging.
[ -n "${DD_KEEP:-}" ] && at_exit 'rm -rf "$DD_KEEP" && cp -a "$TESTDIR" "$DD_KEEP"'
at_exit dd_stop

# dd_running: the daemon is alive.
dd_running() { [ -n "$DD_PID" ] && kill -0 "$DD_PID" 2>/dev/null; }

dd_get() { $DD_CHECK get "$@"; }
dd_set() { $DD_CHECK cache "$@"; }
dd_expect() { $DD_CHECK expect "$@"; }
# dd_wait TIMEOUT_S T0_NS SERVICE EXPR: ms from T0 until EXPR held; on timeout
# non-zero, with the last state on stderr (shown as a TAP diagnostic).
dd_wait() { $DD_CHECK wait "$@" 2> >(sed 's/^/# /' >&2); }
# dd_trace TIMEOUT_S T0_NS SERVICE EXPR: "START_MS END_MS STATE ERROR TOTAL DIGEST" per snapshot until EXPR holds.
dd_trace() { $DD_CHECK trace "$@"; }
# dd_digest LINES-FILE: the DIGEST dd_trace prints for a set of canonical lines (dd_expect's output).
dd_digest() { python3 -c 'import hashlib, sys; print(hashlib.sha256("\n".join(sorted(l.rstrip("\n") for l in open(sys.argv[1]) if l.strip())).encode()).hexdigest()[:12])' "$1"; }
# dd_waitall TIMEOUT_S T0_NS EXPR SERVICE...: "SERVICE MS" lines as each gets there (EXPR sees no backends).
dd_waitall() { $DD_CHECK waitall "$@" 2> >(sed 's/^/# /' >&2); }

# dd_sanitizer_clean: the daemon's log has no ASan/UBSan report.
dd_sanitizer_clean() { ! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$DD_LOG"; }
