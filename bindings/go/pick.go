// SPDX-License-Identifier: LGPL-2.1-or-later
// pick.go: the hot path: picks along the daemon's schedule over the seqlocked slot, endpoints, and the quarantine.

package dnsdisc

import (
	"net/netip"
	"strconv"
)

// Endpoint is a picked backend: its address and port, and what ReportFailure,
// ReportSuccess and Target need to find it again.
type Endpoint struct {
	Addr netip.AddrPort
	svc  *Service
	key  uint64
	gen  uint32
	idx  uint16
}

// String is "ADDRESS:PORT", or "[ADDRESS]:PORT" for IPv6.
func (e Endpoint) String() string {
	if !e.Addr.IsValid() {
		return "invalid endpoint"
	}
	return e.Addr.String()
}

// Key identifies the endpoint across generations (family, address and port).
func (e Endpoint) Key() uint64 { return e.key }

// Target is the endpoint's SRV target (or host) name, read from the cache.
// ErrStaleEndpoint if its service no longer has it.
func (e Endpoint) Target() (string, error) {
	s := e.svc
	if s == nil || e.key == 0 {
		return "", ErrStaleEndpoint
	}
	rebinds := 0
	for attempt := 0; attempt < readRetries; attempt++ {
		b := s.bind.Load()
		m := b.m
		if m.data == nil {
			return "", ErrClosed
		}
		seq := m.u32(b.slot + sSeq)
		if seq&1 != 0 {
			relax()
			continue
		}
		var v slotView
		m.readView(b.slot, &v)
		gen := m.u32(b.slot + sGeneration)
		if m.u32(b.slot+sSeq) != seq {
			continue
		}
		if moved, err := s.follow(b, &v, &rebinds); err != nil {
			if err == ErrNoService {
				err = ErrStaleEndpoint
			}
			return "", err
		} else if moved {
			continue
		}
		if !m.extentOK(&v) {
			return "", ErrCorrupt
		}
		// Same generation: the endpoint's index still holds it. Else look its identity up.
		found := -1
		if gen == e.gen && uint32(e.idx) < v.nb && m.u64(v.extentOff+uint64(e.idx)*backendSize+bKey) == e.key {
			found = int(e.idx)
		}
		for i := uint32(0); found < 0 && i < v.nb; i++ {
			if m.u64(v.extentOff+uint64(i)*backendSize+bKey) == e.key {
				found = int(i)
			}
		}
		var err error
		var name [targetMax]byte
		var tlen uint64
		if found < 0 {
			err = ErrStaleEndpoint
		} else {
			var w rawBackend
			m.readBackend(v.extentOff+uint64(found)*backendSize, &w)
			toff, n, ok := targetOK(&w, v.extentSize, extentSize(v.nb, v.sl, v.ne))
			if ok {
				m.copyBytes(name[:n], v.extentOff+toff)
				tlen = n
			} else {
				err = ErrCorrupt
			}
		}
		if m.u32(b.slot+sSeq) != seq {
			continue
		}
		if err != nil {
			return "", err
		}
		return string(name[:tlen]), nil
	}
	return "", ErrBusy
}

// Pick returns the next endpoint of the daemon's weighted schedule, as
// dnsdisc_pick() does: the process walks the schedule round robin from a
// random starting point, skipping quarantined endpoints unless all are.
// Errors: ErrNoBackend (nothing to pick), ErrNoService (removed),
// ErrCorrupt, ErrBusy. It allocates nothing and takes no lock while no
// quarantine is in force.
func (s *Service) Pick() (Endpoint, error) {
	c := s.cur.Load()
	if c == nil || s.q.Active() {
		return s.pickSlow(false)
	}
	m := c.b.m
	p := s.pos.Add(1) - 1
	i := uint32(m.u16(c.schedule + uint64(p%c.sl)*2))
	if i >= c.nb {
		return s.pickSlow(false)
	}
	var w pickWords
	m.readPick(c.backends+uint64(i)*backendSize, &w)
	gen := m.u32(c.b.slot + sGeneration)
	if m.u32(c.b.slot+sSeq) != c.seq {
		return s.pickSlow(false)
	}
	return w.endpoint(s, gen, i)
}

// PickRandom returns a uniformly random endpoint among those of the schedule
// (dnsdisc_pick_random()), skipping quarantined ones unless all are.
func (s *Service) PickRandom() (Endpoint, error) {
	c := s.cur.Load()
	if c == nil || s.q.Active() {
		return s.pickSlow(true)
	}
	m := c.b.m
	i := uint32(m.u16(c.eligible + uint64(s.randomBelow(c.ne))*2))
	if i >= c.nb {
		return s.pickSlow(true)
	}
	var w pickWords
	m.readPick(c.backends+uint64(i)*backendSize, &w)
	gen := m.u32(c.b.slot + sGeneration)
	if m.u32(c.b.slot+sSeq) != c.seq {
		return s.pickSlow(true)
	}
	return w.endpoint(s, gen, i)
}

// pickWords: what a pick copies of a backend: the sockaddr words, addrlen, and the key.
type pickWords struct {
	sa  [8]uint32 // bytes 0..31: sockaddr, addrlen in byte 28
	key uint64
}

func (m *mapping) readPick(off uint64, w *pickWords) {
	for i := range w.sa {
		w.sa[i] = m.u32(off + uint64(i)*4)
	}
	w.key = m.u64(off + bKey)
}

func (w *pickWords) endpoint(s *Service, gen, i uint32) (Endpoint, error) {
	var r rawBackend
	copy(r[:8], w.sa[:])
	addr, port, ok := sockaddr(&r)
	if !ok {
		return Endpoint{}, wrap("pick", s.name, ErrCorrupt)
	}
	return Endpoint{Addr: netip.AddrPortFrom(addr, port), svc: s, key: w.key, gen: gen, idx: uint16(i)}, nil
}

// randomBelow is a uniform draw in [0, n), n > 0, by multiply-shift.
func (s *Service) randomBelow(n uint32) uint32 {
	x := mix64(s.rng.Add(0x9e3779b97f4a7c15) ^ s.seed)
	return uint32((x >> 32) * uint64(n) >> 32)
}

// pickSlow is everything the fast path skips: (re)filling the cursor with a
// full check of the slot, following a moved service, the quarantine, errors.
func (s *Service) pickSlow(random bool) (Endpoint, error) {
	e, err := s.pickChecked(random)
	return e, wrap("pick", s.name, err)
}

func (s *Service) pickChecked(random bool) (Endpoint, error) {
	rebinds := 0
	for attempt := 0; attempt < readRetries; attempt++ {
		b := s.bind.Load()
		m := b.m
		if m.data == nil {
			return Endpoint{}, ErrClosed
		}
		seq := m.u32(b.slot + sSeq)
		if seq&1 != 0 {
			relax()
			continue
		}
		var v slotView
		m.readView(b.slot, &v)
		if m.u32(b.slot+sSeq) != seq {
			continue
		}
		// From here the values above are one consistent state of the slot.
		if moved, err := s.follow(b, &v, &rebinds); err != nil {
			return Endpoint{}, err
		} else if moved {
			continue
		}
		if !m.extentOK(&v) {
			return Endpoint{}, ErrCorrupt
		}
		n := v.sl
		if random {
			n = v.ne
		}
		if n == 0 {
			return Endpoint{}, ErrNoBackend
		}
		sched := v.extentOff + uint64(v.nb)*backendSize
		c := s.cur.Load()
		if c == nil || c.b != b || c.seq != seq {
			// Check every backend's sockaddr once per change; the fast path trusts the seqlock after.
			bad := false
			var w rawBackend
			for i := uint32(0); i < v.nb && !bad; i++ {
				m.readBackend(v.extentOff+uint64(i)*backendSize, &w)
				_, _, ok := sockaddr(&w)
				bad = !ok
			}
			if m.u32(b.slot+sSeq) != seq {
				continue
			}
			if bad {
				return Endpoint{}, ErrCorrupt
			}
			// A new binding starts at a random point: processes started together
			// must not all begin with the same backend.
			if c == nil || c.b != b {
				s.pos.Store(uint32(mix64(s.seed ^ b.uid)))
			}
			if v.sl > 0 && v.ne > 0 {
				s.cur.Store(&cursor{b: b, seq: seq, backends: v.extentOff, schedule: sched,
					eligible: sched + uint64(v.sl)*2, nb: v.nb, sl: v.sl, ne: v.ne})
			} else {
				s.cur.Store(nil)
			}
		}
		list := sched
		var pos uint32
		if random {
			list = sched + uint64(v.sl)*2
			pos = s.randomBelow(n)
		} else {
			pos = (s.pos.Add(1) - 1) % n
		}
		if s.q.Active() {
			p, skipped, ok := s.q.Skip(n, pos, func(p uint32) (uint64, bool) {
				i := uint32(m.u16(list + uint64(p)*2))
				if i >= v.nb {
					return 0, false
				}
				return m.u64(v.extentOff + uint64(i)*backendSize + bKey), true
			})
			if !ok {
				if m.u32(b.slot+sSeq) != seq {
					continue
				}
				return Endpoint{}, ErrCorrupt
			}
			pos = p
			if !random && skipped > 0 {
				// Skipped positions are used up, as libdnsdisc's cursor moves past them.
				s.pos.Add(skipped)
			}
		}
		i := uint32(m.u16(list + uint64(pos)*2))
		if i >= v.nb {
			if m.u32(b.slot+sSeq) != seq {
				continue
			}
			return Endpoint{}, ErrCorrupt
		}
		var w pickWords
		m.readPick(v.extentOff+uint64(i)*backendSize, &w)
		gen := m.u32(b.slot + sGeneration)
		if m.u32(b.slot+sSeq) != seq {
			continue
		}
		var r rawBackend
		copy(r[:8], w.sa[:])
		addr, port, ok := sockaddr(&r)
		if !ok {
			return Endpoint{}, ErrCorrupt
		}
		return Endpoint{Addr: netip.AddrPortFrom(addr, port), svc: s, key: w.key, gen: gen, idx: uint16(i)}, nil
	}
	return Endpoint{}, ErrBusy
}

// ReportFailure quarantines the endpoint for this process: picks skip it for
// 1 s, for twice as long after each failure reported once a quarantine ran
// out (at most 30 s), unless every endpoint of the schedule is quarantined.
// At most 16 endpoints per service are remembered.
func (s *Service) ReportFailure(e Endpoint) {
	if e.svc == s {
		s.q.Failure(e.key)
	}
}

// ReportSuccess ends the endpoint's quarantine and resets its length.
func (s *Service) ReportSuccess(e Endpoint) {
	if e.svc == s && e.key != 0 {
		s.q.Success(e.key)
	}
}

// GoString helps debugging output.
func (e Endpoint) GoString() string {
	return "dnsdisc.Endpoint{" + e.String() + " key=" + strconv.FormatUint(e.key, 16) + "}"
}
