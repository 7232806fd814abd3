// SPDX-License-Identifier: LGPL-2.1-or-later
// liveness_test.go: liveness.go, the writer's liveness by the boot clock, with the cases of tests/test-map.c.

package dnsdisc

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// uptime is /proc/uptime's first field in µs: the kernel's boot clock at 10 ms resolution.
func uptime(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Skipf("no /proc/uptime to check the boot clock against: %v", err)
	}
	f, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return int64(f * 1e6)
}

func TestBootNowReadsTheBootClock(t *testing.T) {
	before := uptime(t)
	now := bootNow()
	after := uptime(t)
	if now < before || now > after+10000 {
		t.Fatalf("bootNow() = %d µs, /proc/uptime read %d then %d", now, before, after)
	}
}

func TestHeartbeatRuleHoldsForAnyValues(t *testing.T) {
	const minI, maxI = math.MinInt64, math.MaxInt64
	cases := []struct {
		minor                        uint16
		intervalMs                   uint32
		real, boot, nowReal, nowBoot int64
		late                         bool
	}{
		// Boot clock, limit 3 s (intervals under 1 s count as 1 s): strictly older is late.
		{2, 1000, 0, 7000000, 1, 10000000, false},
		{2, 1000, 0, 6999999, maxI, 10000000, true},
		{2, 0, minI, 7000000, 0, 10000000, false},
		{2, 2000, 0, 4000000, 0, 10000000, false},
		{2, 2000, 0, 3999999, 0, 10000000, true},
		// Up to the limit ahead is a race with the writer; further, another boot's: wall clock.
		{2, 1000, minI, 13000000, 0, 10000000, false},
		{2, 1000, minI, 13000001, 0, 10000000, true},
		{2, 1000, maxI, maxI, 0, 10000000, false},
		{2, 1000, minI, maxI, maxI, 10000000, true},
		// Shortly after boot, and at the ends of the range.
		{2, 1000, minI, 1, 0, 2, false},
		{2, 1000, 0, minI, 0, 2, true},
		{2, math.MaxUint32, 0, -1, 0, maxI, true},
		{2, math.MaxUint32, 0, minI + 1, 0, maxI, true},
		{2, math.MaxUint32, minI, maxI, minI, maxI, false},
		{math.MaxUint16, math.MaxUint32, minI, maxI - 1, minI, maxI, false},
		// No boot stamp, no boot clock, or a file before 1.2: the wall clock.
		{2, 1000, -5, 0, 0, 10000000, false},
		{2, 1000, 5, 1, minI, -1, false},
		{2, 1000, minI, 10000000, minI, -1, false},
		{2, 1000, minI + 1, 10000000, 0, -1, true},
		{1, 1000, 0, 10000000, 3000001, 10000000, true},
		{1, 1000, 0, minI, 3000000, 10000000, false},
		{0, math.MaxUint32, maxI, maxI, maxI, maxI, false},
		{1, math.MaxUint32, minI, 0, maxI, 0, true},
	}
	for i, c := range cases {
		if got := heartbeatLate(c.minor, c.intervalMs, c.real, c.boot, c.nowReal, c.nowBoot); got != c.late {
			t.Errorf("case %d %+v: late %v", i, c, got)
		}
	}
}

// stampedCache: a reader of one published service in a file of format
// 1.minor, and its writer, whose heartbeat stamps the test sets.
func stampedCache(t *testing.T, minor uint16) (*testWriter, *Cache) {
	path := filepath.Join(t.TempDir(), "cache")
	w := newTestWriter(t, path, 4, 1<<16)
	t.Cleanup(w.close)
	w.publish("api", threeSet())
	w.setMinor(minor)
	return w, openTest(t, path)
}

func TestAliveWhenOnlyTheWallClockMoved(t *testing.T) {
	w, c := stampedCache(t, 2)
	// The wall clock stepped forward by hours (NTP at boot) after the last heartbeat, or back.
	w.setStamps(-5*time.Hour, 0)
	if c.Stale() {
		t.Fatal("wall clock 5 h on, boot clock fresh: stale")
	}
	w.setStamps(5*time.Hour, 0)
	if c.Stale() {
		t.Fatal("wall clock 5 h back, boot clock fresh: stale")
	}
}

func TestGoneByTheBootClockThoughTheWallClockIsFresh(t *testing.T) {
	w, c := stampedCache(t, 2)
	w.setStamps(0, -4*time.Second)
	if !c.Stale() {
		t.Fatal("boot clock 4 s old, wall clock fresh: not stale")
	}
	w.setStamps(0, -2*time.Second)
	if c.Stale() {
		t.Fatal("boot clock 2 s old: stale")
	}
}

func TestFileBefore12IsJudgedByTheWallClock(t *testing.T) {
	w, c := stampedCache(t, 1)
	// Its reserved bytes decide nothing, whatever they hold.
	w.setStamps(0, -5*time.Hour)
	if c.Stale() {
		t.Fatal("1.1 file, wall clock fresh: stale")
	}
	w.setStamps(-4*time.Second, 0)
	if !c.Stale() {
		t.Fatal("1.1 file, wall clock 4 s old: not stale")
	}
	w.setStamps(-2*time.Second, 0)
	if c.Stale() {
		t.Fatal("1.1 file, wall clock 2 s old: stale")
	}
}

func TestZeroBootStampIsJudgedByTheWallClock(t *testing.T) {
	w, c := stampedCache(t, 2)
	w.setStamps(-4*time.Second, 0)
	*w.p64(hHeartbeatBoot) = 0
	if !c.Stale() {
		t.Fatal("no boot stamp, wall clock 4 s old: not stale")
	}
	w.setStamps(0, 0)
	*w.p64(hHeartbeatBoot) = 0
	if c.Stale() {
		t.Fatal("no boot stamp, wall clock fresh: stale")
	}
}

// The cost of Cache.Stale's check: on a 1.2 file both clocks are read, the boot
// clock by a system call (no vDSO through syscall); a 1.1 file reads the wall clock only.
func BenchmarkStale(b *testing.B) {
	for _, minor := range []uint16{2, 1} {
		b.Run(fmt.Sprintf("1.%d", minor), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "cache")
			w := newTestWriter(b, path, 4, 1<<16)
			defer w.close()
			w.publish("api", threeSet())
			w.setMinor(minor)
			c, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			m := c.current()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if m.stale() {
					b.Fatal("stale")
				}
			}
		})
	}
}
