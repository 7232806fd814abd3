// SPDX-License-Identifier: LGPL-2.1-or-later
// reader_test.go: the reader against files the test writer changes: schedule walk, errors, quarantine, moves, waiting.

package dnsdisc

import (
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dnsdisc/dnsdisc/bindings/go/internal/quarantine"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// threeSet: a (weight 1), b (weight 3) scheduled a b b b; c (priority 20) not scheduled.
func threeSet() twSet {
	return twSet{
		backends: []twBackend{
			{addr: ap("127.0.0.1:80"), target: "a.example", priority: 10, weight: 1, health: 1, scheduled: true},
			{addr: ap("[2001:db8::2]:8080"), target: "b.example", priority: 10, weight: 3, health: 1, scheduled: true},
			{addr: ap("127.0.0.3:81"), target: "c.example", priority: 20, weight: 1, health: 1},
		},
		schedule: []uint16{1, 0, 1, 1},
		state:    1,
		flags:    svcSRV,
	}
}

func openTest(t *testing.T, path string) *Cache {
	t.Helper()
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(filepath.Join(dir, "missing"))
	if !errors.Is(err, ErrNoCache) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want ErrNoCache and fs.ErrNotExist", err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a directory: %v, want ErrCorrupt", err)
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("DNSDISC\x00"), 0o644)
	if _, err := Open(short); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short file: %v, want ErrCorrupt", err)
	}
	path := filepath.Join(dir, "cache")
	w := newTestWriter(t, path, 4, 4096)
	defer w.close()
	good, _ := os.ReadFile(path)
	for _, tc := range []struct {
		name string
		edit func(b []byte)
		want error
	}{
		{"magic", func(b []byte) { b[0] = 'X' }, ErrCorrupt},
		{"major 2", func(b []byte) { b[8] = 2 }, ErrIncompatible},
		{"file_size past the file", func(b []byte) { binary.LittleEndian.PutUint64(b[16:], uint64(len(b)+1)) }, ErrCorrupt},
		{"slots past the file", func(b []byte) { binary.LittleEndian.PutUint32(b[44:], 1000000) }, ErrCorrupt},
		{"heap before the slots", func(b []byte) { binary.LittleEndian.PutUint64(b[48:], 512) }, ErrCorrupt},
		{"heap size wraps", func(b []byte) { binary.LittleEndian.PutUint64(b[56:], ^uint64(0)-100) }, ErrCorrupt},
		{"service_size odd", func(b []byte) { binary.LittleEndian.PutUint32(b[40:], 769) }, ErrCorrupt},
	} {
		b := append([]byte(nil), good...)
		tc.edit(b)
		p := filepath.Join(dir, "bad")
		os.WriteFile(p, b, 0o644)
		if _, err := Open(p); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestPickFollowsTheSchedule(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	w := newTestWriter(t, path, 4, 1<<16)
	defer w.close()
	w.publish("api", threeSet())
	c := openTest(t, path)
	s, err := c.Service("api")
	if err != nil {
		t.Fatal(err)
	}
	var seq []string
	count := map[string]int{}
	for i := 0; i < 4000; i++ {
		e, err := s.Pick()
		if err != nil {
			t.Fatal(err)
		}
		count[e.String()]++
		if i < 8 {
			seq = append(seq, e.String())
		}
	}
	if count["127.0.0.1:80"] != 1000 || count["[2001:db8::2]:8080"] != 3000 || len(count) != 2 {
		t.Fatalf("4000 picks: %v, want exactly 1000 of a and 3000 of b", count)
	}
	// A walk: the period-4 sequence repeats and holds one a.
	for i := 0; i < 4; i++ {
		if seq[i] != seq[i+4] {
			t.Fatalf("picks do not walk the schedule: %v", seq)
		}
	}
	e, _ := s.Pick()
	if tg, err := e.Target(); err != nil || (tg != "a.example" && tg != "b.example") {
		t.Fatalf("Target: %q, %v", tg, err)
	}
	r := map[string]int{}
	for i := 0; i < 4000; i++ {
		e, err := s.PickRandom()
		if err != nil {
			t.Fatal(err)
		}
		r[e.String()]++
	}
	// Drawn from the schedule, as dnsdisc_pick_random(): 1:3, 6 sigma is about 165.
	if len(r) != 2 || r["127.0.0.1:80"] < 835 || r["127.0.0.1:80"] > 1165 {
		t.Fatalf("4000 random picks: %v, want about 1000 of a and 3000 of b", r)
	}
}

func TestPickStartsAtARandomPointPerProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	w := newTestWriter(t, path, 4, 1<<16)
	defer w.close()
	set := twSet{state: 1}
	for i := 0; i < 64; i++ {
		set.backends = append(set.backends, twBackend{addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 1, byte(i)}), 80),
			target: "x", weight: 1, health: 1, scheduled: true})
		set.schedule = append(set.schedule, uint16(i))
	}
	w.publish("wide", set)
	first := map[string]bool{}
	for i := 0; i < 8; i++ {
		c := openTest(t, path)
		s, err := c.Service("wide")
		if err != nil {
			t.Fatal(err)
		}
		e, err := s.Pick()
		if err != nil {
			t.Fatal(err)
		}
		first[e.String()] = true
	}
	if len(first) < 2 {
		t.Fatalf("8 opens of a 64-backend schedule all started at %v", first)
	}
}

func TestSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	w := newTestWriter(t, path, 4, 1<<16)
	defer w.close()
	w.publish("api", threeSet())
	c := openTest(t, path)
	s, err := c.Service("api")
	if err != nil {
		t.Fatal(err)
	}
	info, bs, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "api" || info.Query != "api.example" || info.State != StateOK || !info.SRV || info.Panic ||
		info.NBackends != 3 || info.NScheduled != 2 || info.NHealthy != 3 || info.Generation != s.Generation() {
		t.Fatalf("info %+v", info)
	}
	want := threeSet().backends
	for i, b := range bs {
		if b.Addr != want[i].addr || b.Target != want[i].target || b.Priority != want[i].priority ||
			b.Weight != want[i].weight || b.Scheduled != want[i].scheduled || b.Health != HealthUp ||
			b.Key != endpointKey(want[i].addr) || b.TTLLeft() < 50*time.Second {
			t.Errorf("backend %d: %+v, want %+v", i, b, want[i])
		}
	}
}

func TestErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	w := newTestWriter(t, path, 4, 1<<16)
	defer w.close()
	w.publish("empty", twSet{state: 3})
	w.publish("api", threeSet())
	c := openTest(t, path)
	if _, err := c.Service("nope"); !errors.Is(err, ErrNoService) {
		t.Fatalf("unknown service: %v", err)
	}
	s, err := c.Service("empty")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pick(); !errors.Is(err, ErrNoBackend) {
		t.Fatalf("empty schedule: %v, want ErrNoBackend", err)
	}
	if _, err := s.PickRandom(); !errors.Is(err, ErrNoBackend) {
		t.Fatalf("empty schedule, random: %v, want ErrNoBackend", err)
	}
	if n := testing.AllocsPerRun(100, func() { s.Pick() }); n != 0 {
		t.Fatalf("Pick of an empty service allocates %v", n)
	}
	api, _ := c.Service("api")
	if _, err := api.Pick(); err != nil {
		t.Fatal(err)
	}
	// A schedule entry past n_backends, written under the seqlock: corrupt, not a panic.
	slot := w.slotOff(w.slots["api"])
	ext := binary.LittleEndian.Uint64(w.b[slot+16:])
	odd := w.seqBegin(slot)
	binary.LittleEndian.PutUint16(w.b[ext+3*backendSize:], 7)
	binary.LittleEndian.PutUint16(w.b[ext+3*backendSize+2:], 7)
	binary.LittleEndian.PutUint16(w.b[ext+3*backendSize+4:], 7)
	binary.LittleEndian.PutUint16(w.b[ext+3*backendSize+6:], 7)
	w.seqEnd(slot, odd)
	if _, err := api.Pick(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("schedule index out of range: %v, want ErrCorrupt", err)
	}
	// An extent outside the heap.
	odd = w.seqBegin(slot)
	binary.LittleEndian.PutUint64(w.b[slot+16:], uint64(len(w.b))-8)
	w.seqEnd(slot, odd)
	for _, f := range []func() error{
		func() error { _, err := api.Pick(); return err },
		func() error { _, _, err := api.Snapshot(); return err },
	} {
		if err := f(); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("extent past the heap: %v, want ErrCorrupt", err)
		}
	}
	// A slot left odd (a writer died mid-write): ErrBusy, bounded.
	w.seqBegin(slot)
	t0 := time.Now()
	if _, err := api.Pick(); !errors.Is(err, ErrBusy) {
		t.Fatalf("odd seq: %v, want ErrBusy", err)
	}
	if _, _, err := api.Snapshot(); !errors.Is(err, ErrBusy) {
		t.Fatalf("odd seq snapshot: %v, want ErrBusy", err)
	}
	t.Logf("ErrBusy after %v", time.Since(t0))
}

// The geometry is read once per mapping: a header rewritten under a live
// mapping (a hostile or buggy writer) moves no bound of the reader.
func TestHeaderChangedUnderTheMapping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	w := newTestWriter(t, path, 4, 1<<16)
	defer w.close()
	w.publish("api", threeSet())
	c := openTest(t, path)
	s, err := c.Service("api")
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	le.PutUint32(w.b[44:], 1000000)            // n_service_slots
	le.PutUint64(w.b[48:], 1<<40)              // heap_offset
	le.PutUint64(w.b[56:], 1<<40)              // heap_size
	le.PutUint64(w.b[32:], uint64(len(w.b))*4) // services_offset
	le.PutUint32(w.b[40:], 1<<30)              // service_size
	for i := 0; i < 10; i++ {
		if _, err := s.Pick(); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Service("other"); !errors.Is(err, ErrNoService) {
		t.Fatalf("lookup after the header changed: %v", err)
	}
	if names := c.Services(); len(names) != 1 || names[0] != "api" {
		t.Fatalf("Services: %v", names)
	}
}

func TestQuarantine(t *testing.T) {
	var now atomic.Int64
	now.Store(1e12)
	saved := quarantine.Now
	quarantine.Now = func() int64 { return now.Load() }
	defer func() { quarantine.Now = saved }()

	path := filepath.Join(t.TempDir(), "cache")
	w := newTestWriter(t, path, 4, 1<<16)
	defer w.close()
	w.publish("api", threeSet())
	c := openTest(t, path)
	s, _ := c.Service("api")
	var b Endpoint
	for {
		e, _ := s.Pick()
		if e.String() == "[2001:db8::2]:8080" {
			b = e
			break
		}
	}
	picks := func(n int) map[string]int {
		m := map[string]int{}
		for i := 0; i < n; i++ {
			e, err := s.Pick()
			if err != nil {
				t.Fatal(err)
			}
			m[e.String()]++
		}
		return m
	}
	s.ReportFailure(b)
	if m := picks(100); m["[2001:db8::2]:8080"] != 0 || m["127.0.0.1:80"] != 100 {
		t.Fatalf("b quarantined: %v", m)
	}
	now.Add(int64(time.Second))
	if m := picks(100); m["[2001:db8::2]:8080"] != 75 {
		t.Fatalf("after 1 s: %v, want b back at 75", m)
	}
	// A failure after the quarantine ran out doubles it.
	s.ReportFailure(b)
	now.Add(int64(1500 * time.Millisecond))
	if m := picks(8); m["[2001:db8::2]:8080"] != 0 {
		t.Fatalf("second quarantine (2 s) over after 1.5 s: %v", m)
	}
	now.Add(int64(600 * time.Millisecond))
	if m := picks(8); m["[2001:db8::2]:8080"] != 6 {
		t.Fatalf("second quarantine not over after 2.1 s: %v", m)
	}
	// Everything quarantined: picks ignore the quarantine.
	a, _ := s.Pick()
	for a.String() == b.String() {
		a, _ = s.Pick()
	}
	s.ReportFailure(a)
	s.ReportFailure(b)
	if m := picks(8); m["[2001:db8::2]:8080"]+m["127.0.0.1:80"] != 8 {
		t.Fatalf("all quarantined: %v", m)
	}
	s.ReportSuccess(a)
	if m := picks(8); m["127.0.0.1:80"] != 8 {
		t.Fatalf("a's success ends its quarantine, b's goes on: %v", m)
	}
	if n := testing.AllocsPerRun(100, func() { s.Pick() }); n != 0 {
		t.Fatalf("Pick under quarantine allocates %v", n)
	}
}

func TestPickAllocatesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	w := newTestWriter(t, path, 4, 1<<16)
	defer w.close()
	w.publish("api", threeSet())
	c := openTest(t, path)
	s, _ := c.Service("api")
	s.Pick()
	if n := testing.AllocsPerRun(1000, func() { s.Pick() }); n != 0 {
		t.Fatalf("Pick allocates %v per call", n)
	}
	if n := testing.AllocsPerRun(1000, func() { s.PickRandom() }); n != 0 {
		t.Fatalf("PickRandom allocates %v per call", n)
	}
}

func TestRemovedAndAddedAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	w := newTestWriter(t, path, 8, 1<<16)
	defer w.close()
	w.publish("api", threeSet())
	c := openTest(t, path)
	s, _ := c.Service("api")
	gen := s.Generation()
	w.remove("api")
	if _, err := s.Pick(); !errors.Is(err, ErrNoService) {
		t.Fatalf("removed: %v, want ErrNoService", err)
	}
	if s.Generation() == gen {
		t.Fatal("removal did not change the generation")
	}
	done := make(chan error, 1)
	g := s.Generation()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Wait(ctx, g)
	}()
	time.Sleep(20 * time.Millisecond)
	set := threeSet()
	set.backends[0].addr = ap("127.0.0.9:80")
	w.publish("api", set)
	if err := <-done; err != nil {
		t.Fatalf("Wait while removed: %v", err)
	}
	e, err := s.Pick()
	if err != nil {
		t.Fatal(err)
	}
	if e2, _ := c.Service("api"); e2 != s {
		t.Fatal("a second Service call returned another handle")
	}
	_ = e
}

func TestFollowsReplacement(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	w := newTestWriter(t, path, 2, 1<<14)
	w.publish("api", threeSet())
	c := openTest(t, path)
	s, _ := c.Service("api")
	gen := s.Generation()
	old := s.bind.Load().m
	done := make(chan error, 1)
	go func() { done <- s.Wait(context.Background(), gen) }()
	time.Sleep(20 * time.Millisecond)
	w2 := w.replace(16, 1<<16)
	defer w2.close()
	defer w.close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Wait did not return on replacement")
	}
	set := threeSet()
	set.schedule = []uint16{2}
	w2.publish("api", set)
	e, err := s.Pick()
	if err != nil || e.String() != "127.0.0.3:81" {
		t.Fatalf("after replacement: %v %v, want the new file's 127.0.0.3:81", e, err)
	}
	if s.bind.Load().m == old {
		t.Fatal("still bound to the old file")
	}
}

func TestWaitWakesAtOnceAndEndsWithTheContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	w := newTestWriter(t, path, 4, 1<<16)
	defer w.close()
	w.publish("api", threeSet())
	c := openTest(t, path)
	s, _ := c.Service("api")
	gen := s.Generation()
	woke := make(chan time.Time, 1)
	go func() {
		if err := s.Wait(context.Background(), gen); err != nil {
			t.Error(err)
		}
		woke <- time.Now()
	}()
	time.Sleep(50 * time.Millisecond)
	t0 := time.Now()
	w.publish("api", threeSet())
	select {
	case t1 := <-woke:
		if d := t1.Sub(t0); d > 50*time.Millisecond {
			t.Fatalf("Wait returned %v after the change", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return")
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Wait(ctx, s.Generation()) }()
	time.Sleep(50 * time.Millisecond)
	t0 = time.Now()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) || time.Since(t0) > 200*time.Millisecond {
			t.Fatalf("Wait after cancel: %v after %v", err, time.Since(t0))
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Wait ignored its context")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The file is marked replaced and nothing is at the path (the daemon is
// between files): Wait neither spins nor fails, and follows the new file.
func TestWaitDoesNotSpinWhileThePathIsMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	w := newTestWriter(t, path, 4, 1<<16)
	defer w.close()
	w.publish("api", threeSet())
	c := openTest(t, path)
	s, _ := c.Service("api")
	gen := s.Generation()
	os.Remove(path)
	w.remove("api")
	atomic.StoreUint32(w.p32(hFlags), fileReplaced)
	w.bumpCounter()
	if err := s.Wait(context.Background(), gen); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pick(); !errors.Is(err, ErrNoService) {
		t.Fatalf("replaced, path missing: %v, want ErrNoService", err)
	}
	done := make(chan error, 1)
	cpu0 := cpuTime()
	g := s.Generation()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Wait(ctx, g)
	}()
	time.Sleep(time.Second)
	if used := cpuTime() - cpu0; used > 100*time.Millisecond {
		t.Fatalf("Wait used %v of CPU in 1 s while the path was missing", used)
	}
	w2 := newTestWriter(t, path, 4, 1<<16)
	defer w2.close()
	w2.publish("api", threeSet())
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Wait did not follow the new file")
	}
	if _, err := s.Pick(); err != nil {
		t.Fatal(err)
	}
}

func TestStale(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	w := newTestWriter(t, path, 4, 1<<16)
	defer w.close()
	w.publish("api", threeSet())
	c := openTest(t, path)
	if c.Stale() {
		t.Fatal("fresh heartbeat: stale")
	}
	w.setHeartbeat(time.Now().Add(-4 * time.Second))
	if !c.Stale() {
		t.Fatal("heartbeat 4 s old: not stale")
	}
	w.heartbeat()
	w.stop()
	if !c.Stale() {
		t.Fatal("stopped: not stale")
	}
}

// A stale daemon's file was replaced by a restarted one without being marked
// (nothing told the readers): while the heartbeat is stale the reader looks
// at the path, at most once a second, and follows the new file.
func TestStaleHeartbeatFollowsANewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	w := newTestWriter(t, path, 4, 1<<16)
	defer w.close()
	w.publish("api", threeSet())
	c := openTest(t, path)
	s, _ := c.Service("api")
	inc := uint64(100)
	w2 := createTestWriter(t, path, 4, 1<<16, &inc)
	defer w2.close()
	set := threeSet()
	set.schedule = []uint16{2}
	w2.publish("api", set)
	// Heartbeat fresh: the old file is the reader's truth.
	if c.Stale() || c.current().ino == w2.inode(t) {
		t.Fatal("followed a new file while the old one's heartbeat was fresh")
	}
	waited := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		waited <- s.Wait(ctx, s.Generation())
	}()
	time.Sleep(20 * time.Millisecond)
	w.setHeartbeat(time.Now().Add(-10 * time.Second))
	// A waiter looks at the path once a second while the heartbeat is stale, and moves.
	if err := <-waited; err != nil {
		t.Fatalf("Wait did not follow the service to the new file: %v", err)
	}
	t0 := time.Now()
	for c.Stale() {
		if time.Since(t0) > 3*time.Second {
			t.Fatal("still stale 3 s after a fresh file appeared at the path")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c.current().ino != w2.inode(t) {
		t.Fatal("Stale() is false but the new file is not the newest mapping")
	}
	// The old file's slot is untouched: the handle moves because a newer file holds its service.
	if e, err := s.Pick(); err != nil || e.String() != "127.0.0.3:81" {
		t.Fatalf("pick after the new file: %v %v, want its 127.0.0.3:81", e, err)
	}
	// A newer file without the service: the handle stays where it is.
	w3 := createTestWriter(t, path, 4, 1<<16, &inc)
	defer w3.close()
	w3.publish("other", threeSet())
	w2.setHeartbeat(time.Now().Add(-10 * time.Second))
	for t0 = time.Now(); c.current().ino != w3.inode(t); time.Sleep(50 * time.Millisecond) {
		if c.Stale(); time.Since(t0) > 3*time.Second {
			t.Fatal("did not map the third file")
		}
	}
	if e, err := s.Pick(); err != nil || e.String() != "127.0.0.3:81" {
		t.Fatalf("pick after a file without the service: %v %v, want 127.0.0.3:81 still", e, err)
	}
	if n := testing.AllocsPerRun(100, func() { s.Pick() }); n != 0 {
		t.Fatalf("Pick allocates %v while bound to an older file", n)
	}
}

func (w *testWriter) inode(t *testing.T) uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat(w.path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}
