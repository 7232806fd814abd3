// SPDX-License-Identifier: LGPL-2.1-or-later
// pick.go: the hot path: picks along the daemon's schedule over the seqlocked slot, endpoints, and the quarantine.

package dnsdisc

import (
	"math/bits"
	"net/netip"
	"strconv"
	"sync/atomic"
	"unsafe"
)

// Pick's round-robin position is striped once goroutines contend for it.
// libdnsdisc keeps one position per thread, so that threads picking at once
// write no shared cache line. While one goroutine at a time picks from a
// Service, it walks stripe 0 alone: the whole process walks the schedule
// round robin from one random point, exactly, as a single libdnsdisc thread
// does. The first time two goroutines meet on a position (a failed
// compare-and-swap), the Service switches for good to one position per
// stripe of goroutines. Goroutines have no thread identity; the cheapest
// stable stand-in is the goroutine's stack: the address of a local variable,
// over the minimum stack size, hashed to one of posStripes positions, each
// on its own cache lines. Goroutines mostly land on different stripes; two
// on one stripe are still correct (the position is atomic), only slower. A
// goroutine keeps its stripe while its stack stays where it is (the runtime
// moves a stack it grows or shrinks); each stripe walks the schedule round
// robin, so the shares hold per stripe and for the process. Stripes are not
// used before contention because of those moves: a lone goroutine's walk
// would jump to another stripe's start point whenever its stack moved.
const (
	posStripeBits = 4
	posStripes    = 1 << posStripeBits
	// stackMinShift: the runtime's minimum goroutine stack is 2 KiB; frames of
	// one small stack share the address bits above it.
	stackMinShift = 11
)

// posStripe is one position and one random sequence, alone on a 64-byte
// line with a line of padding before it, so no other stripe or field shares
// its line or the line an adjacent-line prefetcher pairs with it.
type posStripe struct {
	_ [64]byte
	n atomic.Uint32
	r atomic.Uint64 // PickRandom's and PickLeast's draws: splitmix64 over this counter
	_ [48]byte
}

// posStripeOf is the calling goroutine's stripe: the address of a local
// (on the caller's stack once inlined, and never turned back into a
// pointer), shifted past the minimum stack size, Fibonacci-hashed.
func posStripeOf() uint32 {
	var anchor byte
	a := uint64(uintptr(unsafe.Pointer(&anchor))) >> stackMinShift
	return uint32(a*0x9e3779b97f4a7c15>>(64-posStripeBits)) & (posStripes - 1)
}

// startPositions starts every stripe of a new binding at its own random
// point: processes, and goroutines of one, started together must not all
// begin with the same backend (libdnsdisc mixes the thread's cursor array
// address in; here the stripe's number).
func (s *Service) startPositions(uid uint64) {
	for k := range s.pos {
		s.pos[k].n.Store(uint32(mix64(s.seed ^ uid ^ uint64(k)*0x9e3779b97f4a7c15)))
	}
}

// Endpoint is a picked backend: its address and port, and what ReportFailure,
// ReportSuccess and Target need to find it again.
type Endpoint struct {
	Addr netip.AddrPort
	svc  *Service
	key  uint64
	gen  uint32
	idx  uint16
	// PickLeast's: the endpoint's in-flight count, and its epoch at the pick.
	fl    *inflight
	epoch uint32
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
		var v slotView
		b, seq, err := s.readBegin(&v)
		if err != nil {
			return "", err
		} else if b == nil {
			continue
		}
		m := b.m
		gen := m.u32(b.slot + sGeneration)
		if again, err := s.readEnd(b, &v, seq, &rebinds); err != nil {
			if err == ErrNoService {
				err = ErrStaleEndpoint
			}
			return "", err
		} else if again {
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
// dnsdisc_pick() does: the schedule is walked round robin from a random
// starting point, per stripe of goroutines as libdnsdisc does per thread,
// skipping quarantined endpoints unless all are.
// Errors: ErrNoBackend (nothing to pick), ErrNoService (removed),
// ErrCorrupt, ErrBusy. It allocates nothing and takes no lock while no
// quarantine is in force.
func (s *Service) Pick() (Endpoint, error) {
	k := uint32(0)
	if s.contended.Load() {
		k = posStripeOf()
	}
	c := s.cursor()
	if c == nil || s.q.Active() {
		return s.pickSlow(false, k)
	}
	p := &s.pos[k].n
	n := p.Load()
	if !p.CompareAndSwap(n, n+1) {
		// Another goroutine took a position between the load and the swap:
		// from now on each goroutine walks its own stripe.
		s.contended.Store(true)
		k = posStripeOf()
		n = s.pos[k].n.Add(1) - 1
	}
	i := c.sched[fastmod(n, c.slM, c.sl)]
	// The copy is the file's content while the slot's seq is the one it was
	// taken at. Written out here and in PickRandom: a call would copy the
	// Endpoint once more.
	m := c.b.m
	gen := m.u32(c.b.slot + sGeneration)
	if m.u32(c.b.slot+sSeq) != c.seq || i == badIndex {
		return s.pickSlow(false, k)
	}
	if cur := s.c.current(); cur != m && cur != s.noMove.Load() {
		return s.pickSlow(false, k)
	}
	e := &c.eps[i]
	return Endpoint{Addr: e.Addr, svc: s, key: e.key, gen: gen, idx: e.idx}, nil
}

// PickRandom returns a random endpoint drawn from the schedule
// (dnsdisc_pick_random()): a uniformly random entry, so each endpoint has
// the share Pick gives it (SRV weights, split over a record's addresses),
// skipping quarantined ones unless all are.
func (s *Service) PickRandom() (Endpoint, error) {
	c := s.cursor()
	if c == nil || s.q.Active() {
		return s.pickSlow(true, 0)
	}
	i := c.sched[s.randomBelow(c.sl)]
	m := c.b.m
	gen := m.u32(c.b.slot + sGeneration)
	if m.u32(c.b.slot+sSeq) != c.seq || i == badIndex {
		return s.pickSlow(true, 0)
	}
	if cur := s.c.current(); cur != m && cur != s.noMove.Load() {
		return s.pickSlow(true, 0)
	}
	e := &c.eps[i]
	return Endpoint{Addr: e.Addr, svc: s, key: e.key, gen: gen, idx: e.idx}, nil
}

// fastmod is a % d for the cursor's d with m = ^uint64(0)/d + 1 (Lemire,
// "Faster remainder by direct computation"): a multiply instead of a DIV.
func fastmod(a uint32, m uint64, d uint32) uint64 {
	hi, _ := bits.Mul64(m*uint64(a), uint64(d))
	return hi
}

// badIndex marks a schedule entry past n_backends in a cursor: a pick that
// lands on it fails (ErrCorrupt), the others do not, as in libdnsdisc.
const badIndex = 0xffff

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

// randomBelow is a uniform draw in [0, n), n > 0, by multiply-shift.
func (s *Service) randomBelow(n uint32) uint32 {
	return uint32((s.rand64() >> 32) * uint64(n) >> 32)
}

// startDraws starts each stripe's draws at its own point of the service's
// sequence, 2^60 apart: stripes never meet. Once, when the Service is made:
// a new binding does not start the draws over.
func (s *Service) startDraws() {
	for k := range s.pos {
		s.pos[k].r.Store(uint64(k) << (64 - posStripeBits))
	}
}

// rand64 is 64 random bits of the calling goroutine's stripe: goroutines
// drawing at once mostly write different lines (libdnsdisc draws from a
// per-thread state). Unlike Pick's positions, a draw does not care which
// stripe a moved stack lands on.
func (s *Service) rand64() uint64 {
	return mix64(s.pos[posStripeOf()].r.Add(1)*0x9e3779b97f4a7c15 ^ s.seed)
}

// pickSlow is everything the fast path skips: (re)filling the cursor with a
// full check of the slot, following a moved service, the quarantine, errors.
// k is Pick's stripe, chosen in its frame (pickSlow's own frame may hash elsewhere).
func (s *Service) pickSlow(random bool, k uint32) (Endpoint, error) {
	e, err := s.pickChecked(random, k)
	if err == ErrNoBackend {
		// The one error a healthy program meets in a loop: made once, so that it allocates nothing.
		return e, s.errNoBackend
	}
	return e, wrap("pick", s.name, err)
}

// fill copies the slot's schedule and decoded backends at seq
// into a new cursor. False if seq moved meanwhile; ErrCorrupt for a backend
// whose sockaddr is not one dd_sockaddr_ok() accepts.
func (s *Service) fill(b *binding, v *slotView, seq uint32) (*cursor, bool, error) {
	m := b.m
	sched := v.extentOff + uint64(v.nb)*backendSize
	c := &cursor{b: b, seq: seq, nb: v.nb, sl: v.sl, ne: v.ne,
		sched: make([]uint16, v.sl), eps: make([]Endpoint, v.nb)}
	if v.sl > 0 {
		c.slM = ^uint64(0)/uint64(v.sl) + 1
	}
	for j := range c.sched {
		c.sched[j] = m.u16(sched + uint64(j)*2)
	}
	words := make([]pickWords, v.nb)
	for j := range words {
		m.readPick(v.extentOff+uint64(j)*backendSize, &words[j])
	}
	if m.u32(b.slot+sSeq) != seq {
		return nil, false, nil
	}
	for k, i := range c.sched {
		if uint32(i) >= v.nb {
			c.sched[k] = badIndex
		}
	}
	for j := range words {
		addr, port, ok := sockaddr(&words[j].sa)
		if !ok {
			return nil, true, ErrCorrupt
		}
		c.eps[j] = Endpoint{Addr: netip.AddrPortFrom(addr, port), svc: s, key: words[j].key, idx: uint16(j)}
	}
	return c, true, nil
}

func (s *Service) pickChecked(random bool, k uint32) (Endpoint, error) {
	rebinds := 0
	for attempt := 0; attempt < readRetries; attempt++ {
		var v slotView
		b, seq, err := s.readBegin(&v)
		if err != nil {
			return Endpoint{}, err
		} else if b == nil {
			continue
		}
		m := b.m
		if again, err := s.readEnd(b, &v, seq, &rebinds); err != nil {
			return Endpoint{}, err
		} else if again {
			continue
		}
		if !m.extentOK(&v) {
			return Endpoint{}, ErrCorrupt
		}
		n := v.sl // random picks draw from the schedule too: its weights, split by record
		if n == 0 {
			return Endpoint{}, ErrNoBackend
		}
		c := s.cursor()
		if c == nil || c.b != b || c.seq != seq {
			nc, consistent, err := s.fill(b, &v, seq)
			if !consistent {
				continue
			}
			if err != nil {
				return Endpoint{}, err
			}
			// A new binding starts at a random point (startPositions).
			if c == nil || c.b != b {
				s.startPositions(b.uid)
			}
			c = nc
			if v.sl > 0 && v.ne > 0 {
				s.storeCursor(c)
			} else {
				s.storeCursor(nil)
			}
		}
		list := c.sched
		var pos uint32
		if random {
			pos = s.randomBelow(n)
		} else {
			pos = uint32(fastmod(s.pos[k].n.Add(1)-1, c.slM, c.sl))
		}
		if s.q.Active() {
			p, skipped, ok := s.q.Skip(n, pos, func(p uint32) (uint64, bool) {
				if list[p] == badIndex {
					return 0, false
				}
				return c.eps[list[p]].key, true
			})
			if ok {
				pos = p
				if !random && skipped > 0 {
					// Skipped positions are used up, as libdnsdisc's cursor moves past
					// them: on the stripe the position was read from.
					s.pos[k].n.Add(skipped)
				}
			}
		}
		if m.u32(b.slot+sSeq) != seq {
			continue
		}
		i := list[pos]
		if i == badIndex {
			return Endpoint{}, ErrCorrupt
		}
		e := c.eps[i]
		e.gen = m.u32(b.slot + sGeneration)
		return e, nil
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
