// SPDX-License-Identifier: LGPL-2.1-or-later
// fuzz_test.go: native fuzzing of the reader with arbitrary bytes as the mapped file, changed between rounds as a hostile writer would.

package dnsdisc

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

// mapBytes is a "mapping" of a heap copy of data: exactly len(data) bytes
// the reader may use, in a buffer rounded up to 8 so that word loads stay in it.
func mapBytes(data []byte) (*mapping, []byte, error) {
	n := (len(data) + 7) &^ 7
	if n == 0 {
		n = 8
	}
	words := make([]uint64, n/8)
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), n)
	copy(buf, data)
	m := &mapping{base: unsafe.Pointer(&words[0]), size: uint64(len(data)), data: buf}
	if len(data) < headerSize {
		return nil, nil, ErrCorrupt
	}
	if err := validate(m); err != nil {
		return nil, nil, err
	}
	return m, buf[:len(data)], nil
}

func cacheOf(m *mapping) *Cache {
	c := &Cache{path: "/nonexistent/dnsdisc-fuzz", maps: []*mapping{m}, services: map[string]*Service{}, seed: 1}
	c.setCurrent(m)
	return c
}

const (
	fuzzServicesMax = 32
	fuzzPicks       = 8
	fuzzRoundsMax   = 8
	headerImmutable = 64
)

// writerStep applies the next record (offset u32 LE, length u8, bytes) of
// the script to the file, past its immutable first 64 bytes, as tests/fuzz/fuzz-cache.c does.
func writerStep(file []byte, script *[]byte) bool {
	s := *script
	if len(s) < 5 || len(file) <= headerImmutable {
		return false
	}
	off := int(uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24)
	n := int(s[4])
	s = s[5:]
	if n > len(s) {
		n = len(s)
	}
	off %= len(file)
	if off < headerImmutable {
		off = headerImmutable
	}
	if n > len(file)-off {
		n = len(file) - off
	}
	copy(file[off:], s[:n])
	*script = s[n:]
	return true
}

func knownErr(err error) bool {
	for _, e := range []error{ErrNoService, ErrNoBackend, ErrCorrupt, ErrBusy, ErrStaleEndpoint, ErrNoHashTable} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func fuzzRound(t *testing.T, c *Cache, handles map[string]*Service, kept *[]Endpoint) {
	for i, name := range c.Services() {
		if i >= fuzzServicesMax {
			break
		}
		if _, ok := handles[name]; !ok {
			s, err := c.Service(name)
			if err != nil {
				if !knownErr(err) {
					t.Fatalf("Service(%q): %v", name, err)
				}
				continue
			}
			handles[name] = s
		}
	}
	for _, s := range handles {
		info, bs, err := s.Snapshot()
		if err == nil {
			if len(bs) != info.NBackends || info.NScheduled > info.NBackends || len(bs) > backendsMax {
				t.Fatalf("snapshot: %d backends, info %+v", len(bs), info)
			}
			for _, b := range bs {
				if !b.Addr.Addr().IsValid() || len(b.Target) >= targetMax {
					t.Fatalf("snapshot backend %+v", b)
				}
			}
		} else if !knownErr(err) {
			t.Fatalf("Snapshot: %v", err)
		}
		for k := 0; k < fuzzPicks; k++ {
			pick := s.Pick
			switch k & 3 {
			case 1:
				pick = s.PickRandom
			case 2:
				pick = func() (Endpoint, error) { return s.PickHash(uint64(k) * 0x9e3779b97f4a7c15) }
			case 3:
				pick = s.PickLeast
			}
			e, err := pick()
			if err != nil {
				if !knownErr(err) {
					t.Fatalf("Pick: %v", err)
				}
				continue
			}
			if !e.Addr.IsValid() {
				t.Fatalf("Pick returned an invalid address")
			}
			if k == 2 {
				s.ReportFailure(e)
			}
			if len(*kept) < 16 {
				*kept = append(*kept, e)
			}
		}
		if _, err := s.HashTableSize(); err != nil && !knownErr(err) {
			t.Fatalf("HashTableSize: %v", err)
		}
		s.Generation()
	}
	// Endpoints of earlier rounds, whose files have changed since.
	for _, e := range *kept {
		if tg, err := e.Target(); err != nil && !knownErr(err) {
			t.Fatalf("Target: %v", err)
		} else if len(tg) >= targetMax {
			t.Fatalf("Target %d bytes", len(tg))
		}
		_ = e.String()
	}
}

func fuzzOne(t *testing.T, data []byte) {
	m, file, err := mapBytes(data)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrIncompatible) {
			t.Fatalf("validate: %v", err)
		}
		return
	}
	c := cacheOf(m)
	c.Stale()
	c.ChangeCounter()
	// The bytes past file_size are the writer's script.
	fileSize := m.u64(16)
	script := append([]byte(nil), data[fileSize:]...)
	handles := map[string]*Service{}
	var kept []Endpoint
	for round := 0; round < fuzzRoundsMax; round++ {
		fuzzRound(t, c, handles, &kept)
		if !writerStep(file, &script) {
			break
		}
	}
}

func addDir(f *testing.F, dir string) int {
	entries, _ := os.ReadDir(dir)
	n := 0
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && !e.IsDir() {
			f.Add(b)
			n++
		}
	}
	return n
}

// FuzzCache: the C fuzzers' cache corpus and crash regressions are the seeds
// (tests/fuzz/corpus-cache, regressions-cache); Go's own regressions live in
// testdata/fuzz/FuzzCache.
func FuzzCache(f *testing.F) {
	n := addDir(f, "../../tests/fuzz/corpus-cache")
	n += addDir(f, "../../tests/fuzz/regressions-cache")
	if n == 0 {
		f.Log("no C corpus found: fuzzing from testdata only")
	}
	f.Fuzz(fuzzOne)
}
