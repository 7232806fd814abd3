// SPDX-License-Identifier: LGPL-2.1-or-later
// least.go: least-request: two weighted random candidates, the one with fewer requests in flight from this process.

package dnsdisc

import (
	"sync"
	"sync/atomic"
)

// inflightMax: counts saturate here (DD_INFLIGHT_MAX), so a program that
// never releases cannot overflow them.
const inflightMax = 1 << 30

// inflight is the number of requests in flight from this process to one
// endpoint of one Service. A reset (the endpoint left the set) moves epoch
// on, so releases of picks made before it take nothing from the new count.
type inflight struct {
	count atomic.Int32
	epoch atomic.Uint32
}

// leastTable: a Service's counts by endpoint key (address and port, not
// index: they survive a republish that keeps the endpoint). Copy on write:
// picks find counts with one atomic load and no lock.
type leastTable struct {
	mu sync.Mutex
	m  atomic.Pointer[map[uint64]*inflight]
}

func (t *leastTable) get(key uint64) *inflight {
	if m := t.m.Load(); m != nil {
		if f := (*m)[key]; f != nil {
			return f
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.m.Load()
	if old != nil {
		if f := (*old)[key]; f != nil {
			return f
		}
	}
	m := make(map[uint64]*inflight, 1+lenOf(old))
	if old != nil {
		for k, f := range *old {
			m[k] = f
		}
	}
	f := &inflight{}
	m[key] = f
	t.m.Store(&m)
	return f
}

func lenOf(m *map[uint64]*inflight) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// sweep forgets the endpoints that are not among eps any more and resets
// their counts: a pick never released weighs on its endpoint only while it
// stays in the set (libdnsdisc's rule).
func (t *leastTable) sweep(eps []Endpoint) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.m.Load()
	if old == nil {
		return
	}
	keep := make(map[uint64]bool, len(eps))
	for i := range eps {
		keep[eps[i].key] = true
	}
	m := make(map[uint64]*inflight, len(eps))
	for k, f := range *old {
		if keep[k] {
			m[k] = f
			continue
		}
		f.epoch.Add(1)
		f.count.Store(0)
	}
	t.m.Store(&m)
}

// freshCursor is the service's cursor for its current state, refilled if
// the slot changed (as Pick's slow path does, without moving Pick's walk).
func (s *Service) freshCursor() (*cursor, error) {
	rebinds := 0
	for attempt := 0; attempt < readRetries; attempt++ {
		var v slotView
		b, seq, err := s.readBegin(&v)
		if err != nil {
			return nil, err
		} else if b == nil {
			continue
		}
		if again, err := s.readEnd(b, &v, seq, &rebinds); err != nil {
			return nil, err
		} else if again {
			continue
		}
		if !b.m.extentOK(&v) {
			return nil, ErrCorrupt
		}
		if v.sl == 0 || v.ne == 0 {
			return nil, ErrNoBackend
		}
		c := s.cursor()
		if c != nil && c.b == b && c.seq == seq {
			return c, nil
		}
		nc, consistent, err := s.fill(b, &v, seq)
		if !consistent {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c == nil || c.b != b {
			s.startPositions(b.uid)
		}
		s.storeCursor(nc)
		return nc, nil
	}
	return nil, ErrBusy
}

// PickLeast picks by least request, as dnsdisc_pick_least(): two distinct
// endpoints drawn from the schedule (so by SRV weight), the one with fewer
// requests in flight from this process wins (the first on a tie), skipping
// quarantined endpoints unless all are. Call Release with the endpoint when
// its request ends. Counts belong to an endpoint's address and port, so
// they survive republishing; when the endpoint leaves the set its count
// starts over, and releases of earlier picks are ignored. Errors as Pick's.
func (s *Service) PickLeast() (Endpoint, error) {
	e, err := s.pickLeast()
	if err == ErrNoBackend {
		return e, s.errNoBackend
	}
	return e, wrap("pick least", s.name, err)
}

func (s *Service) pickLeast() (Endpoint, error) {
	for attempt := 0; attempt < readRetries; attempt++ {
		c := s.cursor()
		if c == nil || c.b.m.u32(c.b.slot+sSeq) != c.seq {
			var err error
			if c, err = s.freshCursor(); err != nil {
				return Endpoint{}, err
			}
		}
		if cur := s.c.current(); cur != c.b.m && cur != s.noMove.Load() {
			if _, err := s.freshCursor(); err != nil {
				return Endpoint{}, err
			}
			continue
		}
		if c.swept.CompareAndSwap(false, true) {
			s.least.sweep(c.eps)
		}
		i1, i2, ok := s.leastChoose(c)
		m := c.b.m
		gen := m.u32(c.b.slot + sGeneration)
		if m.u32(c.b.slot+sSeq) != c.seq {
			continue
		}
		if !ok {
			return Endpoint{}, ErrCorrupt
		}
		f1 := s.least.get(c.eps[i1].key)
		f2 := f1
		if i2 != i1 {
			f2 = s.least.get(c.eps[i2].key)
		}
		i, f := i1, f1
		if f2.count.Load() < f1.count.Load() {
			i, f = i2, f2
		}
		e := c.eps[i]
		e.gen = gen
		e.fl = f
		e.epoch = f.epoch.Load()
		if f.count.Load() < inflightMax {
			f.count.Add(1)
		}
		return e, nil
	}
	return Endpoint{}, ErrBusy
}

func below(bits, n uint32) uint32 { return uint32(uint64(bits) * uint64(n) >> 32) }

// leastChoose draws the two candidates as libdnsdisc's dd_least_choose():
// one draw gives two distinct schedule positions; redrawn a few times while
// they are the same backend or quarantined, then a walk from a random point.
// False for an index past the backends.
func (s *Service) leastChoose(c *cursor) (i1, i2 uint16, ok bool) {
	sl := c.sl
	q := s.q.Active()
	quarantined := func(i uint16) bool { return q && s.q.Quarantined(c.eps[i].key) }
	x := s.rand64()
	p1 := below(uint32(x>>32), sl)
	if i1 = c.sched[p1]; i1 == badIndex {
		return 0, 0, false
	}
	for t := 0; q && t < 8 && quarantined(i1); t++ {
		if i1 = c.sched[s.randomBelow(sl)]; i1 == badIndex {
			return 0, 0, false
		}
	}
	// A heavy quarantined backend can keep winning the draw: walk on from a
	// random point to one that is not (all quarantined: the quarantine is ignored).
	if quarantined(i1) {
		for p, t := s.randomBelow(sl), uint32(0); t < sl; t++ {
			i := c.sched[p]
			if i == badIndex {
				return 0, 0, false
			}
			if !quarantined(i) {
				i1 = i
				break
			}
			if p++; p >= sl {
				p = 0
			}
		}
	}
	i2 = i1
	if sl > 1 {
		p2 := p1 + 1 + below(uint32(x), sl-1)
		if p2 >= sl {
			p2 -= sl
		}
		if i2 = c.sched[p2]; i2 == badIndex {
			return 0, 0, false
		}
	}
	for t := 0; t < 4 && (i2 == i1 || quarantined(i2)); t++ {
		if i2 = c.sched[s.randomBelow(sl)]; i2 == badIndex {
			return 0, 0, false
		}
	}
	// A heavy backend can keep winning the draw: walk on from a random point to another one.
	if i2 == i1 {
		for p, t := s.randomBelow(sl), uint32(0); t < sl && i2 == i1; t++ {
			if i2 = c.sched[p]; i2 == badIndex {
				return 0, 0, false
			}
			if quarantined(i2) {
				i2 = i1
			}
			if p++; p >= sl {
				p = 0
			}
		}
	}
	if i2 != i1 && quarantined(i2) {
		i2 = i1
	}
	return i1, i2, true
}

// Release ends a request picked by PickLeast. ErrNotLeastPick for any other
// endpoint. A release after the endpoint's count was reset takes nothing.
func (s *Service) Release(e Endpoint) error {
	f := e.fl
	if e.svc != s || f == nil {
		return wrap("release", s.name, ErrNotLeastPick)
	}
	for n := f.count.Load(); n > 0 && f.epoch.Load() == e.epoch; n = f.count.Load() {
		if f.count.CompareAndSwap(n, n-1) {
			break
		}
	}
	return nil
}

// InFlight returns the number of requests in flight from this process to
// the endpoint by PickLeast (picked and not released).
func (s *Service) InFlight(e Endpoint) int {
	if m := s.least.m.Load(); m != nil {
		if f := (*m)[e.key]; f != nil {
			return int(f.count.Load())
		}
	}
	return 0
}
