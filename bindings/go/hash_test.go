// SPDX-License-Identifier: LGPL-2.1-or-later
// hash_test.go: Hash is dnsdisc_hash() (XXH64), PickHash maps keys as libdnsdisc does (dnsdiscctl pick --hash, same files).

package dnsdisc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestHashIsXXH64Seed0(t *testing.T) {
	// xxHash's reference values, covering the < 4, < 8, < 32 and >= 32 byte paths.
	for in, want := range map[string]uint64{
		"":    0xef46db3751d8e999,
		"a":   0xd24ec4f1a98c6e5b,
		"abc": 0x44bc2cf5ad770999,
		"Nobody inspects the spammish repetition": 0xfbcea83c8a378bf1,
	} {
		if got := Hash([]byte(in)); got != want {
			t.Errorf("Hash(%q) = %#x, want %#x", in, got, want)
		}
	}
}

// hashKeys: KEY, KEY-1, ... as dnsdiscctl pick --hash KEY -n N names them.
func hashKeys(key string, n int) []string {
	keys := []string{key}
	for i := 1; i < n; i++ {
		keys = append(keys, fmt.Sprintf("%s-%d", key, i))
	}
	return keys
}

func TestPickHashSameAsTheCReader(t *testing.T) {
	mkcache, ctl := cTools(t)
	path := filepath.Join(t.TempDir(), "cache")
	writeSpec(t, mkcache, path, compareSpec())
	c := openTest(t, path)
	// A long key goes through XXH64's 32-byte stripes.
	long := strings.Repeat("session-", 6)
	for _, tc := range []struct{ name, key string }{{"maglev", "user"}, {"maglev", long}, {"maglevpanic", "k"}} {
		s, err := c.Service(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(ctl, "--cache", path, "pick", tc.name, "--hash", tc.key, "-n", "400").Output()
		if err != nil {
			t.Fatalf("%s: dnsdiscctl: %v", tc.name, err)
		}
		var got []string
		seen := map[string]bool{}
		for _, k := range hashKeys(tc.key, 400) {
			e, err := s.PickHash(Hash([]byte(k)))
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			got = append(got, e.String())
			seen[e.String()] = true
		}
		if want := strings.Fields(string(out)); !reflect.DeepEqual(want, got) {
			t.Errorf("%s %q: C maps the keys to %v, Go to %v", tc.name, tc.key, want, got)
		}
		_, bs, _ := s.Snapshot()
		scheduled := 0
		for _, b := range bs {
			if b.Scheduled {
				scheduled++
			}
		}
		if len(seen) != scheduled {
			t.Errorf("%s: 400 keys reach %d backends, %d are scheduled", tc.name, len(seen), scheduled)
		}
	}
	// The errors: no table, nothing to pick, as the C reader.
	for name, want := range map[string]error{"api": ErrNoHashTable, "maglevempty": ErrNoBackend, "negative": ErrNoHashTable} {
		s, err := c.Service(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.PickHash(1); !errors.Is(err, want) {
			t.Errorf("%s: PickHash: %v, want %v", name, err, want)
		}
		if err := exec.Command(ctl, "--cache", path, "pick", name, "--hash", "k").Run(); err == nil {
			t.Errorf("%s: dnsdiscctl pick --hash succeeds", name)
		}
	}
	if s, _ := c.Service("maglev"); s != nil {
		if n, err := s.HashTableSize(); n != 4093 || err != nil {
			t.Errorf("maglev: HashTableSize %d, %v", n, err)
		}
	}
}

func TestPickHashQuarantineMovesOnlyThatBackendsKeys(t *testing.T) {
	mkcache, _ := cTools(t)
	path := filepath.Join(t.TempDir(), "cache")
	writeSpec(t, mkcache, path, compareSpec())
	s, err := openTest(t, path).Service("maglev")
	if err != nil {
		t.Fatal(err)
	}
	keys := hashKeys("q", 2000)
	before := map[string]Endpoint{}
	for _, k := range keys {
		if before[k], err = s.PickHash(Hash([]byte(k))); err != nil {
			t.Fatal(err)
		}
	}
	victim := before[keys[0]]
	s.ReportFailure(victim)
	for _, k := range keys {
		e, err := s.PickHash(Hash([]byte(k)))
		if err != nil {
			t.Fatal(err)
		}
		if e.Key() == victim.Key() || (before[k].Key() != victim.Key() && e.Key() != before[k].Key()) {
			t.Fatalf("key %s: %v before the quarantine of %v, %v during it", k, before[k], victim, e)
		}
	}
	s.ReportSuccess(victim)
	if e, _ := s.PickHash(Hash([]byte(keys[0]))); e.Key() != victim.Key() {
		t.Errorf("after ReportSuccess the key goes to %v, not back to %v", e, victim)
	}
}

// An entry past n_backends is corruption for both readers, never an index.
func TestPickHashCorruptTable(t *testing.T) {
	mkcache, ctl := cTools(t)
	path := filepath.Join(t.TempDir(), "cache")
	writeSpec(t, mkcache, path, "service h srv hash-table-size=251\nbackend 127.0.0.1 80\nbackend 127.0.0.2 80\n")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	slot := le.Uint64(b[32:])
	if string(b[slot+sName:slot+sName+2]) != "h\x00" || b[slot+sHashKind] != hashMaglev {
		t.Fatalf("mkcache put the service elsewhere")
	}
	table := le.Uint64(b[slot+sExtentOff:]) + uint64(le.Uint32(b[slot+sHashOff:]))
	for i := uint64(0); i < uint64(le.Uint32(b[slot+sHashSize:])); i++ {
		le.PutUint16(b[table+2*i:], 7)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := openTest(t, bad).Service("h")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PickHash(42); !errors.Is(err, ErrCorrupt) {
		t.Errorf("PickHash on a corrupt table: %v", err)
	}
	if _, err := s.Pick(); err != nil {
		t.Errorf("Pick does not read the table, yet: %v", err)
	}
	if err := exec.Command(ctl, "--cache", bad, "pick", "h", "--hash", "k").Run(); err == nil {
		t.Errorf("dnsdiscctl pick --hash succeeds on the corrupt table")
	}
}
