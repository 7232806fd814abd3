#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-go.sh: the Go bindings (bindings/go): gofmt, go vet, go test against the C reader, bounded fuzzing, and gRPC end to end with dnsdiscd and BIND.
#
# Offline, with Debian's golang-go and golang-google-grpc-dev: GOPATH mode over
# /usr/share/gocode (GO111MODULE=off, GOPROXY=off), the module linked into a
# private GOPATH under its import path. Environment: GO_FUZZ_SECONDS (default
# 30; 0 skips fuzzing), top_builddir (default: the source tree's build/).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$top_srcdir/tests/named-lib.sh"

# Run by run-all.sh outside make: the plain build is in build/.
[ -x "$DNSDISCCTL" ] || { top_builddir=$top_srcdir/build; DNSDISCCTL=$top_builddir/tools/dnsdiscctl
        DNSDISCD=$top_builddir/daemon/dnsdiscd MKCACHE=$top_builddir/tests/mkcache; }
for p in "$DNSDISCD" "$DNSDISCCTL" "$MKCACHE"; do
        [ -x "$p" ] || { echo "Bail out! $p not built"; exit 1; }
done
command -v go >/dev/null || { echo "Bail out! go not found: tools/setup.sh installs golang-go"; exit 1; }
[ -d /usr/share/gocode/src/google.golang.org/grpc ] ||
        { echo "Bail out! grpc-go not found: tools/setup.sh installs golang-google-grpc-dev"; exit 1; }

MODULE=github.com/dnsdisc/dnsdisc/bindings/go
mkdir -p "$TESTDIR/gopath/src/${MODULE%/go}" "$TESTDIR/gopath/src/${MODULE%/bindings/go}/docs/examples"
ln -s "$top_srcdir/bindings/go" "$TESTDIR/gopath/src/$MODULE"
ln -s "$top_srcdir/docs/examples/go" "$TESTDIR/gopath/src/${MODULE%/bindings/go}/docs/examples/go"
# GOENV=off: no user configuration file (and none needed where $HOME is unset).
export GOPATH=$TESTDIR/gopath:/usr/share/gocode GO111MODULE=off GOPROXY=off GOTOOLCHAIN=local GOENV=off
unset GOFLAGS
export GOCACHE=${GOCACHE:-$TESTDIR/gocache}
# go resolves the package's import path from $PWD, which must be the link inside GOPATH.
cd "$TESTDIR/gopath/src/$MODULE" || exit 1

out=$(gofmt -l . "$top_srcdir/docs/examples/go" 2>&1)
is "$out" "" "gofmt: every Go file is formatted"
go vet ./... "${MODULE%/bindings/go}/docs/examples/go" 2>&1 | sed 's/^/# /'
ok "${PIPESTATUS[0]}" "go vet is clean (bindings/go, docs/examples/go)"
go build -o "$TESTDIR/dnsdisc-example" "${MODULE%/bindings/go}/docs/examples/go" 2>&1 | sed 's/^/# /'
ok "${PIPESTATUS[0]}" "docs/examples/go builds"

export DNSDISC_MKCACHE=$MKCACHE DNSDISC_CTL=$DNSDISCCTL
go test -count=1 -v . ./internal/... >"$TESTDIR/go-test.log" 2>&1
rc=$?
grep -E '^(--- |ok|FAIL|panic)|_test.go:[0-9]+:' "$TESTDIR/go-test.log" | sed 's/^/# /'
ok "$rc" "go test: the reader (unit tests, against the C reader on mkcache files, writer churn)"

go test -count=1 -v -run 'Test[^E]' ./grpc >"$TESTDIR/go-grpc-unit.log" 2>&1
rc=$?
grep -E '^(--- |ok|FAIL|panic)' "$TESTDIR/go-grpc-unit.log" | sed 's/^/# /'
ok "$rc" "go test: the gRPC resolver's offers and the balancer's picker"

# The Go-side state (handles, bindings, cursors, quarantine) under the race detector,
# with the churn test's concurrent readers; the mapping itself is not Go memory.
go test -race -count=1 -run 'Test[^E]' . ./grpc >"$TESTDIR/go-race.log" 2>&1
rc=$?
grep -E '^(--- FAIL|ok|FAIL|WARNING: DATA RACE)' "$TESTDIR/go-race.log" | sed 's/^/# /'
ok "$rc" "go test -race: the reader and the picker"

seconds=${GO_FUZZ_SECONDS:-30}
if [ "$seconds" != 0 ]; then
        go test -run '^$' -fuzz '^FuzzCache$' -fuzztime "${seconds}s" -parallel 2 . >"$TESTDIR/go-fuzz.log" 2>&1
        rc=$?
        tail -n 3 "$TESTDIR/go-fuzz.log" | sed 's/^/# /'
        [ "$rc" -ne 0 ] && grep -A8 -- '--- FAIL' "$TESTDIR/go-fuzz.log" | sed 's/^/# /'
        ok "$rc" "go fuzz: FuzzCache for ${seconds}s from the C cache corpus, no panic"
fi

# ---------------------------------------------------------------- gRPC end to end
# Every backend is a gRPC server of the test on PORT at its own 127.77.x.y
# (grpc/e2e_test.go has the same table).
PORT=$(free_port) || { echo "Bail out! no free port"; exit 1; }
ZONE=$TESTDIR/zone.db
{
        zone_header example.com 1
        srv() { echo "_grpc._tcp.$1 $2 IN SRV $3 $4 $PORT $5"; }
        srv scale 2 10 10 s1; srv scale 2 10 10 s2
        echo "plain 2 IN A 127.77.1.1"; echo "plain 2 IN A 127.77.1.2"
        srv weights 30 10 1 w1; srv weights 30 10 3 w2
        srv health 30 10 10 h1; srv health 30 10 10 h2; srv health 30 10 10 h3
        srv failover 30 10 10 f1; srv failover 30 20 10 f2
        srv restart 30 10 10 r1; srv restart 30 10 10 r2
        srv gone 1 10 10 g1; srv gone 1 10 10 g2
        i=0; for b in s1 s2 s3; do i=$((i + 1)); echo "$b 30 IN A 127.77.1.$i"; done
        echo "w1 30 IN A 127.77.2.1"; echo "w2 30 IN A 127.77.2.2"
        i=0; for b in h1 h2 h3; do i=$((i + 1)); echo "$b 30 IN A 127.77.3.$i"; done
        echo "f1 30 IN A 127.77.4.1"; echo "f2 30 IN A 127.77.4.2"
        echo "r1 30 IN A 127.77.5.1"; echo "r2 30 IN A 127.77.5.2"
        echo "g1 30 IN A 127.77.6.1"; echo "g2 30 IN A 127.77.6.2"
} >"$ZONE"
start_named example.com "$ZONE" || { echo "Bail out! named did not start"; exit 1; }

export DNSDISC_E2E_NAMED_PORT=$NAMED_PORT DNSDISC_E2E_NAMED_PID=$(cat "$NAMED_DIR/named.pid") DNSDISC_E2E_PORT=$PORT DNSDISC_E2E_DNSDISCD=$DNSDISCD
export DNSDISC_E2E_DIR=$TESTDIR/e2e
mkdir -p "$DNSDISC_E2E_DIR"
go test -count=1 -v -timeout 240s -run 'TestEndToEnd' ./grpc >"$TESTDIR/go-e2e.log" 2>&1
rc=$?
grep -E '^ *(--- |ok|FAIL|panic|FIGURE)|_test.go:[0-9]+:' "$TESTDIR/go-e2e.log" | sed 's/^/# /'
[ "$rc" -ne 0 ] && { diag "dnsdiscd's log:"; tail -n 30 "$DNSDISC_E2E_DIR/dnsdiscd.log" | sed 's/^/#   /'; }
ok "$rc" "gRPC end to end: scale-up, weights, health, failover, late service, DNS outage, file replacement, daemon restart, removal (dnsdiscd, BIND, 3+ gRPC servers)"

done_testing
