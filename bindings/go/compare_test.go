// SPDX-License-Identifier: LGPL-2.1-or-later
// compare_test.go: the Go reader against the C reader (dnsdiscctl show --json, pick) on files of the C test writer (tests/mkcache).

package dnsdisc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cTools returns the C programs, or skips when the tests run outside the
// project's build (tests/test-go.sh always sets them).
func cTools(t *testing.T) (mkcache, ctl string) {
	mkcache, ctl = os.Getenv("DNSDISC_MKCACHE"), os.Getenv("DNSDISC_CTL")
	if mkcache == "" || ctl == "" {
		t.Skip("DNSDISC_MKCACHE and DNSDISC_CTL not set: run through tests/test-go.sh to compare with the C reader")
	}
	return mkcache, ctl
}

// compareSpec: many services, IPv6, weights, priorities, panic, stale, negative, error, pending.
func compareSpec() string {
	var b strings.Builder
	b.WriteString(`service api srv query=_grpc._tcp.api.example.com
backend 127.0.0.1 8080 priority=10 weight=1 target=a1.example.com
backend 127.0.0.2 8080 priority=10 weight=3 target=a2.example.com ttl=30
backend 127.0.0.3 8081 priority=20 weight=5 target=a3.example.com
backend 127.0.0.4 8080 priority=10 weight=2 health=down target=a4.example.com checks=12 failures=3 latency-us=1234 fail=3 check-error=connrefused last-check-ago=2
service v6 srv
backend 2001:db8::1 443 weight=10 target=v6a.example.com
backend 2001:db8::2 443 weight=10 target=v6b.example.com source=srv
backend ::1 8443 weight=20 target=lo6.example.com
service hosts query=hosts.example.com
backend 127.0.1.1 80 source=a
backend 2001:db8::10 80 source=aaaa
service panicked srv panic=on
backend 127.0.2.1 80 health=down weight=1 target=p1.example.com
backend 127.0.2.2 80 health=down weight=2 target=p2.example.com priority=5
service nopanic srv panic=off
backend 127.0.3.1 80 health=down target=n1.example.com
service stale srv state=stale error=servfail last-good-ago=120
backend 127.0.4.1 80 target=s1.example.com
backend 127.0.4.2 80 target=s2.example.com weight=0
service negative state=negative error=nxdomain
service failed state=error error=timeout
service pending state=pending
service zero srv
backend 127.0.5.1 80 weight=0 target=z1.example.com
backend 127.0.5.2 80 weight=0 target=z2.example.com
service maglev srv hash-table-size=4093 counter-notify-rounds=7 counter-notify-last-usec=1700000000000000
backend 127.0.6.1 80 weight=30 target=dual.example.com
backend 2001:db8::6 80 weight=30 target=dual.example.com
backend 127.0.6.3 80 weight=10 target=one.example.com
backend 127.0.6.4 80 weight=10 target=down.example.com health=down
backend 127.0.6.5 81 weight=10 target=pair.example.com
backend 127.0.6.6 81 weight=10 target=pair.example.com
service maglevpanic srv hash-table-size=251 panic=on
backend 127.0.7.1 80 health=down target=mp1.example.com
backend ::1 80 health=down weight=3 target=mp2.example.com
service maglevempty srv hash-table-size=251 panic=off
backend 127.0.8.1 80 health=down target=me.example.com
service unchecked query=unchecked.example.com
backend 127.0.9.1 80 health=unchecked
backend 127.0.9.2 80 health=unchecked
backend 2001:db8::9 80 health=unchecked
`)
	for i := 0; i < 70; i++ {
		fmt.Fprintf(&b, "service many%d srv refresh-in=30\n", i)
		for j := 0; j <= i%5; j++ {
			fmt.Fprintf(&b, "backend 10.%d.0.%d %d weight=%d priority=%d target=m%d.s%d.example.com\n",
				i, j+1, 1000+j, 1+(i+j)%7, 10*(j%2), j, i)
		}
	}
	return b.String()
}

func writeSpec(t *testing.T, mkcache, path, spec string) {
	cmd := exec.Command(mkcache, path)
	cmd.Stdin = strings.NewReader(spec)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkcache: %v\n%s", err, out)
	}
}

func ctlJSON(t *testing.T, ctl, path string, args ...string) []byte {
	cmd := exec.Command(ctl, append([]string{"--cache", path}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dnsdiscctl %v: %v", args, err)
	}
	return out
}

func errName(e ErrorCode) interface{} {
	if e == 0 {
		return nil
	}
	return e.String()
}

func ageSec(now, then time.Time) interface{} {
	if then.IsZero() {
		return nil
	}
	if d := now.Sub(then); d > 0 {
		return float64(d / time.Second)
	}
	return float64(0)
}

// asJSON renders a snapshot with dnsdiscctl's keys (tools/output.c); hash: the table's entries, -1 for none.
func asJSON(info Info, bs []Backend, hash int, now time.Time) map[string]interface{} {
	o := map[string]interface{}{
		"notify_rounds": float64(info.NotifyRounds), "last_notify_usec": float64(usecOf(info.LastNotify)),
		"hash_table_size": nil,
		"name":            info.Name, "query": info.Query, "state": info.State.String(),
		"healthy": float64(info.NHealthy), "total": float64(info.NBackends), "scheduled": float64(info.NScheduled),
		"generation": float64(info.Generation), "srv": info.SRV, "panic": info.Panic,
		"last_error": errName(info.LastError), "age": ageSec(now, info.LastGood),
	}
	if hash >= 0 {
		o["hash_table_size"] = float64(hash)
	}
	list := []interface{}{}
	for _, b := range bs {
		ttl := float64(0)
		if d := b.TTLExpiry.Sub(now); d > 0 {
			ttl = float64((d + time.Second - 1) / time.Second)
		}
		list = append(list, map[string]interface{}{
			"address": b.Addr.Addr().String(), "port": float64(b.Addr.Port()), "target": b.Target,
			"priority": float64(b.Priority), "weight": float64(b.Weight), "scheduled": b.Scheduled,
			"weight_split": float64(b.WeightSplit),
			"health":       b.Health.String(), "ttl": ttl, "source": b.Source.String(),
			"checks": float64(b.Checks), "failures": float64(b.CheckFailures),
			"consecutive_ok": float64(b.ConsecutiveOK), "consecutive_fail": float64(b.ConsecutiveNG),
			"latency_us": float64(b.LastLatency / time.Microsecond), "check_error": errName(b.CheckError),
			"last_check_age": ageSec(now, b.LastCheck),
		})
	}
	o["backends"] = list
	return o
}

func usecOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// closeEnough: equal, except that times in whole seconds may differ by one
// (the two readers look at the clock at different instants).
func closeEnough(key string, a, b interface{}) bool {
	switch key {
	case "age", "ttl", "last_check_age":
		fa, oka := a.(float64)
		fb, okb := b.(float64)
		if oka && okb {
			return fa-fb <= 1 && fb-fa <= 1
		}
	}
	return reflect.DeepEqual(a, b)
}

func diffJSON(t *testing.T, where string, c, g map[string]interface{}) {
	for k, cv := range c {
		gv, ok := g[k]
		if !ok {
			t.Errorf("%s: the Go reader has no %q", where, k)
			continue
		}
		if k == "backends" {
			cl, gl := cv.([]interface{}), gv.([]interface{})
			if len(cl) != len(gl) {
				t.Errorf("%s: %d backends in C, %d in Go", where, len(cl), len(gl))
				continue
			}
			for i := range cl {
				diffJSON(t, fmt.Sprintf("%s backend %d", where, i), cl[i].(map[string]interface{}), gl[i].(map[string]interface{}))
			}
			continue
		}
		if !closeEnough(k, cv, gv) {
			t.Errorf("%s: %s is %v in C, %v in Go", where, k, cv, gv)
		}
	}
	for k := range g {
		if _, ok := c[k]; !ok {
			t.Errorf("%s: the C reader has no %q", where, k)
		}
	}
}

func TestSameAsTheCReader(t *testing.T) {
	mkcache, ctl := cTools(t)
	path := filepath.Join(t.TempDir(), "cache")
	writeSpec(t, mkcache, path, compareSpec())
	c := openTest(t, path)

	var list []map[string]interface{}
	if err := json.Unmarshal(ctlJSON(t, ctl, path, "list", "--json"), &list); err != nil {
		t.Fatal(err)
	}
	names := c.Services()
	if len(list) != len(names) || len(names) < 84 {
		t.Fatalf("C lists %d services, Go %d", len(list), len(names))
	}
	var cnames []string
	for _, o := range list {
		cnames = append(cnames, o["name"].(string))
	}
	gnames := append([]string(nil), names...)
	sort.Strings(cnames)
	sort.Strings(gnames)
	if !reflect.DeepEqual(cnames, gnames) {
		t.Fatalf("services: %v in C, %v in Go", cnames, gnames)
	}
	for _, name := range names {
		var cj map[string]interface{}
		if err := json.Unmarshal(ctlJSON(t, ctl, path, "show", name, "--json"), &cj); err != nil {
			t.Fatal(err)
		}
		s, err := c.Service(name)
		if err != nil {
			t.Fatal(err)
		}
		info, bs, err := s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		hash, err := s.HashTableSize()
		if errors.Is(err, ErrNoHashTable) {
			hash = -1
		} else if err != nil {
			t.Fatal(err)
		}
		diffJSON(t, name, cj, asJSON(info, bs, hash, time.Now()))
	}
}

// picks of one walk: the C and Go sequences are the same cycle, from different starting points.
func TestSameWalkAsTheCReader(t *testing.T) {
	mkcache, ctl := cTools(t)
	path := filepath.Join(t.TempDir(), "cache")
	writeSpec(t, mkcache, path, compareSpec())
	c := openTest(t, path)
	for _, name := range []string{"api", "v6", "hosts", "panicked", "zero", "many13", "many44", "nopanic", "negative", "maglev", "unchecked"} {
		s, err := c.Service(name)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(ctl, "--cache", path, "pick", name, "-n", "128")
		out, cerr := cmd.Output()
		var g []string
		var gerr error
		for i := 0; i < 64; i++ {
			e, err := s.Pick()
			if err != nil {
				gerr = err
				break
			}
			g = append(g, e.String())
		}
		if cerr != nil || gerr != nil {
			// Both fail, and Go with ErrNoBackend as C's "no backend available".
			if cerr == nil || !errors.Is(gerr, ErrNoBackend) {
				t.Errorf("%s: C %v, Go %v", name, cerr, gerr)
			}
			continue
		}
		cs := strings.Fields(string(out))
		if !isRotation(cs, g) {
			t.Errorf("%s: C picks %v, Go picks %v: not the same walk", name, cs, g)
		}
	}
}

// isRotation: b is a stretch of the walk a (twice as long), from another starting point.
func isRotation(a, b []string) bool {
	for shift := 0; shift+len(b) <= len(a); shift++ {
		if reflect.DeepEqual(a[shift:shift+len(b)], b) {
			return true
		}
	}
	return false
}

// The writer's liveness: the same verdict as the C reader (dnsdiscctl's warning) on a
// file of the C writer, its stamps and minor set as a writer, a stepped wall clock
// or a file from another boot would leave them.
func TestSameLivenessAsTheCReader(t *testing.T) {
	mkcache, ctl := cTools(t)
	path := filepath.Join(t.TempDir(), "cache")
	writeSpec(t, mkcache, path, "service live\nbackend 127.0.0.1 1\n")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, headerSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(b)
	w := &testWriter{t: t, b: b}
	// mkcache exits as a stopped daemon does: make it one that died without a word.
	atomic.StoreUint32(w.p32(hFlags), 0)

	const h, s = time.Hour, time.Second
	cases := []struct {
		real, boot time.Duration
		late       [2]bool // minor 1, minor 2
	}{
		{0, 0, [2]bool{false, false}},
		{-5 * h, 0, [2]bool{true, false}},
		{5 * h, 0, [2]bool{false, false}},
		{0, -10 * s, [2]bool{false, true}},
		{-10 * s, -10 * s, [2]bool{true, true}},
		{-10 * s, h, [2]bool{true, true}}, // a boot stamp ahead: another boot's, the wall clock decides
		{0, h, [2]bool{false, false}},
	}
	for minor := uint16(1); minor <= 2; minor++ {
		w.setMinor(minor)
		for _, c := range cases {
			w.setStamps(c.real, c.boot)
			cmd := exec.Command(ctl, "--cache", path, "list")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("dnsdiscctl list: %v\n%s", err, stderr.String())
			}
			cLate := strings.Contains(stderr.String(), "stopped refreshing")
			g, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			gLate := g.Stale()
			g.Close()
			want := c.late[minor-1]
			if cLate != want || gLate != want {
				t.Errorf("minor %d, wall clock %v, boot clock %v: C says stale %v, Go %v, want %v (%q)",
					minor, c.real, c.boot, cLate, gLate, want, stderr.String())
			}
		}
	}
}

// Skipped health probes (DD_SCTR_CHECKS_SKIPPED): what the C reader exposes (dnsdiscctl
// stats --prometheus) on a file of the C writer, and 0 where none were counted.
func TestSameChecksSkippedAsTheCReader(t *testing.T) {
	mkcache, ctl := cTools(t)
	path := filepath.Join(t.TempDir(), "cache")
	writeSpec(t, mkcache, path, "service web counter-checks=40 counter-checks-skipped=6\nbackend 127.0.0.1 80\n"+
		"service none counter-checks=3\nbackend 127.0.0.2 80\n")
	out := string(ctlJSON(t, ctl, path, "stats", "--prometheus"))
	c := openTest(t, path)
	for name, want := range map[string]uint64{"web": 6, "none": 0} {
		s, err := c.Service(name)
		if err != nil {
			t.Fatal(err)
		}
		info, _, err := s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("dnsdisc_health_checks_skipped_total{service=%q} %d\n", name, want)
		if info.ChecksSkipped != want || !strings.Contains(out, line) {
			t.Errorf("%s: Go reads %d skipped probes, want %d; C printed %q: %v", name, info.ChecksSkipped, want,
				line, strings.Contains(out, line))
		}
	}
}
