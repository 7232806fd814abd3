// SPDX-License-Identifier: LGPL-2.1-or-later
// bench_test.go: ns per Pick, PickRandom, PickHash, PickLeast and Hash, with 1 and 2 goroutines (go test -bench Pick -cpu 1,2); figures in docs/performance.md.

package dnsdisc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuClock reports CPU ns per op beside the wall-clock ns/op, which a
// machine shared with other work inflates: the process's user+system time
// over the timed loop (all its threads, the runtime's included).
type cpuClock struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) *cpuClock {
	b.ResetTimer()
	return &cpuClock{start: processCPU()}
}

func (c *cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(processCPU()-c.start)/float64(b.N), "cpu-ns/op")
}

func benchService(b *testing.B) *Service {
	path := filepath.Join(b.TempDir(), "cache")
	w := newTestWriter(b, path, 4, 1<<16)
	b.Cleanup(w.close)
	w.publish("api", threeSet())
	c, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	s, err := c.Service("api")
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkPick: with -cpu 2, two goroutines pick from the same service at once.
func BenchmarkPick(b *testing.B) {
	s := benchService(b)
	b.ReportAllocs()
	clk := startCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Pick(); err != nil {
				b.Fatal(err)
			}
		}
	})
	clk.report(b)
}

func BenchmarkPickRandom(b *testing.B) {
	s := benchService(b)
	b.ReportAllocs()
	clk := startCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.PickRandom(); err != nil {
				b.Fatal(err)
			}
		}
	})
	clk.report(b)
}

// BenchmarkPickHash: 10 equal backends, a table of 65537 entries (needs tests/mkcache: DNSDISC_MKCACHE).
func BenchmarkPickHash(b *testing.B) {
	mkcache := os.Getenv("DNSDISC_MKCACHE")
	if mkcache == "" {
		b.Skip("DNSDISC_MKCACHE not set: tests/mkcache writes the Maglev table")
	}
	spec := "service h srv hash-table-size=65537\n"
	for i := 1; i <= 10; i++ {
		spec += fmt.Sprintf("backend 127.0.0.%d 80 target=h%d.example\n", i, i)
	}
	path := filepath.Join(b.TempDir(), "cache")
	cmd := exec.Command(mkcache, path)
	cmd.Stdin = strings.NewReader(spec)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("mkcache: %v\n%s", err, out)
	}
	c, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	s, err := c.Service("h")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	clk := startCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		key := uint64(0)
		for pb.Next() {
			key++
			if _, err := s.PickHash(key); err != nil {
				b.Fatal(err)
			}
		}
	})
	clk.report(b)
}

// BenchmarkPickLeast: a pick and its Release.
func BenchmarkPickLeast(b *testing.B) {
	s := benchService(b)
	b.ReportAllocs()
	clk := startCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e, err := s.PickLeast()
			if err != nil {
				b.Fatal(err)
			}
			_ = s.Release(e)
		}
	})
	clk.report(b)
}

func BenchmarkHash(b *testing.B) {
	key := []byte("user-1234567890")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		key[0] = byte(i)
		_ = Hash(key)
	}
}
