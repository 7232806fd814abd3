// SPDX-License-Identifier: LGPL-2.1-or-later
// hash.go: consistent hashing: the documented key hash (XXH64), and picks through the Maglev table dnsdiscd publishes.

package dnsdisc

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

const (
	hashMaglev   = 1     // dd_service.hash_kind: DD_HASH_MAGLEV
	hashTableMax = 65537 // DD_HASH_TABLE_MAX
)

// XXH64's primes (Yann Collet's xxHash specification).
const (
	xxP1 uint64 = 11400714785074694791
	xxP2 uint64 = 14029467366897019727
	xxP3 uint64 = 1609587929392839161
	xxP4 uint64 = 9650029242287828579
	xxP5 uint64 = 2870177450012600261
)

func xxRound(acc, input uint64) uint64 {
	acc += input * xxP2
	acc = bits.RotateLeft64(acc, 31)
	return acc * xxP1
}

func xxMerge(acc, val uint64) uint64 {
	acc ^= xxRound(0, val)
	return acc*xxP1 + xxP4
}

// xxh64 is XXH64 of b with seed.
func xxh64(b []byte, seed uint64) uint64 {
	n := len(b)
	var h uint64
	if n >= 32 {
		v1, v2, v3, v4 := seed+xxP1+xxP2, seed+xxP2, seed, seed-xxP1
		for len(b) >= 32 {
			v1 = xxRound(v1, binary.LittleEndian.Uint64(b[0:]))
			v2 = xxRound(v2, binary.LittleEndian.Uint64(b[8:]))
			v3 = xxRound(v3, binary.LittleEndian.Uint64(b[16:]))
			v4 = xxRound(v4, binary.LittleEndian.Uint64(b[24:]))
			b = b[32:]
		}
		h = bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) + bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
		h = xxMerge(h, v1)
		h = xxMerge(h, v2)
		h = xxMerge(h, v3)
		h = xxMerge(h, v4)
	} else {
		h = seed + xxP5
	}
	h += uint64(n)
	for len(b) >= 8 {
		h ^= xxRound(0, binary.LittleEndian.Uint64(b))
		h = bits.RotateLeft64(h, 27)*xxP1 + xxP4
		b = b[8:]
	}
	if len(b) >= 4 {
		h ^= uint64(binary.LittleEndian.Uint32(b)) * xxP1
		h = bits.RotateLeft64(h, 23)*xxP2 + xxP3
		b = b[4:]
	}
	for _, c := range b {
		h ^= uint64(c) * xxP5
		h = bits.RotateLeft64(h, 11) * xxP1
	}
	h ^= h >> 33
	h *= xxP2
	h ^= h >> 29
	h *= xxP3
	h ^= h >> 32
	return h
}

// Hash is the documented key hash of PickHash (dnsdisc_hash()): XXH64 of
// data with seed 0. Every reader on the host maps the same bytes to the same key.
func Hash(data []byte) uint64 { return xxh64(data, 0) }

// hashEntry is the table entry of key in a table of size entries (dd_hash_entry()):
// Fibonacci hashing, then the high half of a 128-bit product.
func hashEntry(key uint64, size uint32) uint32 {
	hi, _ := bits.Mul64(key*0x9e3779b97f4a7c15, uint64(size))
	return uint32(hi)
}

// hashTableOK is dd_hash_table_ok(): the table lies in the extent, after its fixed parts.
func hashTableOK(v *slotView, off, size uint32) bool {
	return size <= hashTableMax && off&7 == 0 && uint64(off) >= extentSize(v.nb, v.sl, v.ne) &&
		off <= v.extentSize && uint64(size)*2 <= uint64(v.extentSize-off)
}

// hashView: the slot's consistent-hash fields.
type hashView struct {
	kind      uint8
	size, off uint32
}

func (m *mapping) readHash(slot uint64, h *hashView) {
	h.kind = uint8(m.u32(slot + sHashKind))
	h.size = m.u32(slot + sHashSize)
	h.off = m.u32(slot + sHashOff)
}

// HashTableSize returns the number of entries of the service's consistent-hash
// table (0: a table, but nothing to pick), as dnsdisc_hash_table_size().
// ErrNoHashTable when the service has none (hash = off).
func (s *Service) HashTableSize() (int, error) {
	n, err := s.hashTableSize()
	return n, wrap("hash table", s.name, err)
}

func (s *Service) hashTableSize() (int, error) {
	rebinds := 0
	for attempt := 0; attempt < readRetries; attempt++ {
		var v slotView
		var h hashView
		b, seq, err := s.readBegin(&v)
		if err != nil {
			return 0, err
		} else if b == nil {
			continue
		}
		m := b.m
		m.readHash(b.slot, &h)
		if again, err := s.readEnd(b, &v, seq, &rebinds); err != nil {
			return 0, err
		} else if again {
			continue
		}
		if h.kind != hashMaglev {
			return 0, ErrNoHashTable
		}
		// An empty table (nothing to pick) has no offset either: the writer leaves it 0.
		if !m.extentOK(&v) || (h.size != 0 && !hashTableOK(&v, h.off, h.size)) {
			return 0, ErrCorrupt
		}
		return int(h.size), nil
	}
	return 0, ErrBusy
}

// PickHash returns the endpoint for key through the Maglev table dnsdiscd
// publishes for the service (hash = maglev), as dnsdisc_pick_hash(): every
// process on the host, in any language, maps a key to the same endpoint.
// Make keys from bytes with Hash. When this process quarantined the
// entry's endpoint, the endpoint of the next entry (wrapping) that is not
// quarantined is used, so only that endpoint's keys move; when every
// scheduled endpoint is quarantined, the entry's own. Errors:
// ErrNoHashTable (hash = off), ErrNoBackend, ErrNoService, ErrCorrupt
// (including an entry past the backends), ErrBusy. It allocates nothing.
func (s *Service) PickHash(key uint64) (Endpoint, error) {
	e, err := s.pickHash(key)
	if err == ErrNoBackend {
		return e, s.errNoBackend
	}
	return e, wrap("pick hash", s.name, err)
}

func (s *Service) pickHash(key uint64) (Endpoint, error) {
	rebinds := 0
	for attempt := 0; attempt < readRetries; attempt++ {
		var v slotView
		var h hashView
		b, seq, err := s.readBegin(&v)
		if err != nil {
			return Endpoint{}, err
		} else if b == nil {
			continue
		}
		m := b.m
		m.readHash(b.slot, &h)
		if again, err := s.readEnd(b, &v, seq, &rebinds); err != nil {
			return Endpoint{}, err
		} else if again {
			continue
		}
		if !m.extentOK(&v) {
			return Endpoint{}, ErrCorrupt
		}
		// Unknown kinds (a newer writer's) are not guessed at either.
		if h.kind != hashMaglev {
			return Endpoint{}, ErrNoHashTable
		}
		if h.size == 0 || v.sl == 0 {
			return Endpoint{}, ErrNoBackend
		}
		if !hashTableOK(&v, h.off, h.size) {
			return Endpoint{}, ErrCorrupt
		}
		table := v.extentOff + uint64(h.off)
		entry := hashEntry(key, h.size)
		i := uint32(m.u16(table + uint64(entry)*2))
		bad := i >= v.nb
		if !bad && s.q.Active() && s.q.Quarantined(m.u64(v.extentOff+uint64(i)*backendSize+bKey)) {
			i, bad = s.hashSkip(m, &v, table, h.size, entry, i)
		}
		var w pickWords
		if !bad {
			m.readPick(v.extentOff+uint64(i)*backendSize, &w)
		}
		gen := m.u32(b.slot + sGeneration)
		if m.u32(b.slot+sSeq) != seq {
			continue
		}
		if bad {
			return Endpoint{}, ErrCorrupt
		}
		addr, port, ok := sockaddr(&w.sa)
		if !ok {
			return Endpoint{}, ErrCorrupt
		}
		return Endpoint{Addr: netip.AddrPortFrom(addr, port), svc: s, key: w.key, gen: gen, idx: uint16(i)}, nil
	}
	return Endpoint{}, ErrBusy
}

// hashSkip: the backend of the first entry after entry (wrapping) whose
// endpoint is not quarantined, if any scheduled endpoint is not; else i.
// bad: an index out of range (the caller rechecks the seqlock).
func (s *Service) hashSkip(m *mapping, v *slotView, table uint64, size, entry, i uint32) (uint32, bool) {
	keyOf := func(j uint32) uint64 { return m.u64(v.extentOff + uint64(j)*backendSize + bKey) }
	elig := v.extentOff + uint64(v.nb)*backendSize + uint64(v.sl)*2
	any := false
	for e := uint32(0); e < v.ne && !any; e++ {
		j := uint32(m.u16(elig + uint64(e)*2))
		if j >= v.nb {
			return i, true
		}
		any = !s.q.Quarantined(keyOf(j))
	}
	for step := uint32(1); any && step < size; step++ {
		e := entry + step
		if e >= size {
			e -= size
		}
		j := uint32(m.u16(table + uint64(e)*2))
		if j >= v.nb {
			return i, true
		}
		if !s.q.Quarantined(keyOf(j)) {
			return j, false
		}
	}
	return i, false
}
