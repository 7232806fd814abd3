// SPDX-License-Identifier: LGPL-2.1-or-later
// service.go: a service handle: its binding to a slot, following moves, consistent snapshots, generations and waiting.

package dnsdisc

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/dnsdisc/dnsdisc/bindings/go/internal/quarantine"
)

// binding is where a handle's service lives: immutable, replaced as a whole.
type binding struct {
	m    *mapping
	slot uint64 // absolute offset of the slot in m
	inc  uint64
	uid  uint64 // process-wide unique: a cursor filled for one binding is never used for another
}

// cursor is a binding's slot as copied at an even seq: its schedule and
// backends, decoded. While the slot's seq is unchanged
// nothing under the seqlock changed, so the copy is the file's content and a
// pick is an index into it, checked by one load of seq. Built on each change
// (an allocation per change, none per pick).
type cursor struct {
	b          *binding
	seq        uint32
	nb, sl, ne uint32
	slM        uint64      // fastmod's multiplier for sl
	sched      []uint16    // badIndex for an entry past n_backends
	eps        []Endpoint  // by backend index; gen filled in at the pick
	swept      atomic.Bool // PickLeast reset the counts of endpoints not in eps
}

// Service is one service of the cache. Safe for concurrent use; Pick allocates nothing.
type Service struct {
	c    *Cache
	name string
	bind atomic.Pointer[binding]
	cur  unsafe.Pointer // *cursor; atomic.Pointer[cursor].Load is a call in Go 1.19, this is one load
	// contended: goroutines have met on stripe 0; Pick uses posStripeOf() from then on.
	// Read by every Pick, written once: beside cur, away from the positions.
	contended atomic.Bool
	pos       [posStripes]posStripe // Pick's next schedule positions (modulo sched_len), one per stripe of goroutines
	seed      uint64                // per-process random start of the schedule walk
	q         quarantine.Table
	// least: PickLeast's requests in flight, by endpoint key.
	least leastTable
	// The newest mapping, when it was found not to hold the service: the
	// handle stays on its slot in an older file (see readEnd).
	noMove atomic.Pointer[mapping]
	// ErrNoBackend wrapped with the name, made with the handle.
	errNoBackend error
}

// Name is the service's name.
func (s *Service) Name() string { return s.name }

func (s *Service) cursor() *cursor       { return (*cursor)(atomic.LoadPointer(&s.cur)) }
func (s *Service) storeCursor(c *cursor) { atomic.StorePointer(&s.cur, unsafe.Pointer(c)) }

// rebind finds the service again after its slot was retired while bound as
// seenUID (another goroutine may have done it already).
func (s *Service) rebind(seenUID uint64) error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.bind.Load().uid != seenUID {
		return nil
	}
	m, slot, inc, err := c.findLocked(s.name)
	if err != nil {
		return err
	}
	s.storeCursor(nil)
	s.bind.Store(&binding{m: m, slot: slot, inc: inc, uid: uidNext.Add(1)})
	return nil
}

// readBegin starts one attempt at a consistent read of the service's slot
// (dd_slot_read_begin()): the binding, and the slot's seq with v read under
// it (dd_slot_view_read()). A nil binding while a writer is mid-write (after
// a pause: try again); ErrClosed once the cache is closed. The caller reads
// whatever else it needs of the slot, then calls readEnd.
func (s *Service) readBegin(v *slotView) (*binding, uint32, error) {
	b := s.bind.Load()
	m := b.m
	if m.data == nil {
		return nil, 0, ErrClosed
	}
	slot := b.slot
	seq := m.u32(slot + sSeq)
	if seq&1 != 0 {
		relax()
		return nil, 0, nil
	}
	v.inc = m.u64(slot + sIncarnation)
	v.extentOff = m.u64(slot + sExtentOff)
	v.extentSize = m.u32(slot + sExtentSize)
	c := m.u32(slot + sCounts)
	v.nb, v.sl = c&0xffff, c>>16
	e := m.u32(slot + sEligible)
	v.ne, v.flags = e&0xffff, uint8(e>>24)
	return b, seq, nil
}

// readEnd closes the attempt (dd_slot_read_end(), dd_follow()): true to try
// again (a torn read, or the service moved and the handle was rebound),
// false when v is one consistent state of the slot that still holds the
// service, or an error. v's extent is trusted only after extentOK.
func (s *Service) readEnd(b *binding, v *slotView, seq uint32, rebinds *int) (bool, error) {
	if b.m.u32(b.slot+sSeq) != seq {
		return true, nil
	}
	if v.inc == b.inc && v.flags&svcMoved == 0 {
		// A newer file that did not retire this one (a daemon restarted after
		// its heartbeat went stale, which the reader noticed): move to it if
		// it holds the service.
		if cur := s.c.current(); cur != b.m && cur != s.noMove.Load() && *rebinds < rebindMax {
			*rebinds++
			return s.moveTo(b, cur), nil
		}
		return false, nil
	}
	if *rebinds++; *rebinds > rebindMax {
		return false, ErrBusy
	}
	if err := s.rebind(b.uid); err != nil {
		return false, err
	}
	return true, nil
}

// moveTo binds s to its service in cur, if it is there. True if the binding changed.
func (s *Service) moveTo(b *binding, cur *mapping) bool {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.bind.Load() != b {
		return true
	}
	slot, inc, err := cur.find(s.name)
	if err != nil {
		s.noMove.Store(cur)
		return false
	}
	s.storeCursor(nil)
	s.bind.Store(&binding{m: cur, slot: slot, inc: inc, uid: uidNext.Add(1)})
	return true
}

// live binds s to a live slot if it is not, and returns the binding.
func (s *Service) live() (*binding, error) {
	for rebinds := 0; ; rebinds++ {
		b := s.bind.Load()
		if b.m.data == nil {
			return nil, ErrClosed
		}
		live, inc, err := b.m.identity(b.slot, nil)
		if err == nil && live && inc == b.inc {
			// A newer file that did not retire this one: move if it holds the service.
			if cur := s.c.current(); cur != b.m && cur != s.noMove.Load() && rebinds < rebindMax && s.moveTo(b, cur) {
				continue
			}
			return b, nil
		}
		if err != nil && err != ErrCorrupt {
			return nil, err
		}
		if rebinds >= rebindMax {
			return nil, ErrBusy
		}
		if err := s.rebind(b.uid); err != nil {
			return nil, err
		}
	}
}

// Generation is the service's generation: it changes with every significant
// change (backends, health, schedule, state). A service that is gone keeps
// the last generation its slot had.
func (s *Service) Generation() uint32 {
	b, err := s.live()
	if err != nil {
		b = s.bind.Load()
	}
	return b.m.u32(b.slot + sGeneration)
}

// Wait blocks until the service's generation differs from gen (or the
// service moved to another slot or file, or went away), or ctx ends (then
// ctx.Err()). It sleeps on the generation's futex word, which the daemon
// wakes, so it returns within microseconds of a change and uses no CPU
// meanwhile. While the service is absent it sleeps on the cache's change
// counter and returns once the service is there again. The file's path is
// looked at once a second while the daemon's heartbeat is stale, and at a
// bounded rate while the file is marked replaced and nothing is at the path.
func (s *Service) Wait(ctx context.Context, gen uint32) error {
	var uid uint64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := s.live()
		switch {
		case err == nil:
			// Moved to another slot or file: its generation counts from elsewhere.
			if uid != 0 && b.uid != uid {
				return nil
			}
			uid = b.uid
			if b.m.u32(b.slot+sGeneration) != gen {
				return nil
			}
			futexWait(ctx, b.m, b.slot+sGeneration, gen, staleRecheck)
			// A stale daemon may have been replaced by a new file: look once a second.
			s.c.refresh()
		case errors.Is(err, ErrNoService):
			old := s.bind.Load()
			if uid == 0 && old.m.data != nil && old.m.u32(old.slot+sGeneration) != gen {
				return nil
			}
			uid = old.uid
			cc := s.c.current().changeCounter()
			if _, err := s.live(); err == nil {
				return nil
			}
			if err := s.c.WaitChange(ctx, cc); err != nil {
				return err
			}
		default:
			return wrap("wait", s.name, err)
		}
	}
}

// State is a service's DNS state (DD_STATE_*).
type State uint8

const (
	StatePending  State = 0 // not resolved yet
	StateOK       State = 1
	StateStale    State = 2 // DNS failing, last good set still served
	StateNegative State = 3 // NXDOMAIN/NODATA confirmed, or SRV target "."
	StateError    State = 4 // DNS failing for longer than stale-ttl: emptied
)

func (s State) String() string { return nameOf(stateNames[:], int(s)) }

var stateNames = [...]string{"pending", "ok", "stale", "negative", "error"}

// Health of a backend (DD_HEALTH_*).
type Health uint8

const (
	HealthUnknown Health = 0 // checked, but no probe has judged it yet
	HealthUp      Health = 1
	HealthDown    Health = 2
	// HealthUnchecked: the service is not health-checked (check = none): the
	// backend is picked as DNS publishes it (libdnsdisc: DNSDISC_HEALTH_UNCHECKED).
	HealthUnchecked Health = 3
)

// health is the API's value of a backend's health byte and flags, as libdnsdisc reports it.
func health(h uint8, flags uint32) Health {
	if h == uint8(HealthUp) && flags&backendUnchecked != 0 {
		return HealthUnchecked
	}
	return Health(h)
}

func (h Health) String() string { return nameOf(healthNames[:], int(h)) }

var healthNames = [...]string{"unknown", "up", "down", "unchecked"}

// Source says where a backend's address came from (DD_SOURCE_*).
type Source uint8

const (
	SourceSRV  Source = 0 // address of an SRV target
	SourceA    Source = 1 // A record of the host
	SourceAAAA Source = 2
)

func (s Source) String() string { return nameOf(sourceNames[:], int(s)) }

var sourceNames = [...]string{"srv", "a", "aaaa"}

// ErrorCode is a DD_ERR_* code of a failed resolution or health check.
type ErrorCode uint16

func (e ErrorCode) String() string { return nameOf(errorNames[:], int(e)) }

var errorNames = [...]string{"none", "timeout", "servfail", "refused", "nxdomain", "nodata", "network",
	"malformed", "truncated", "unavailable", "connrefused", "check-timeout", "http-status", "protocol", "other"}

func nameOf(table []string, i int) string {
	if i >= 0 && i < len(table) {
		return table[i]
	}
	return "invalid"
}

// Info is a service's state at one generation.
type Info struct {
	Name, Query string
	Generation  uint32
	State       State
	Panic       bool // no backend is healthy: the schedule holds all of them
	SRV         bool // resolved through SRV, else A/AAAA
	LastError   ErrorCode
	NHealthy    int
	NBackends   int
	NScheduled  int       // distinct backends in the schedule
	LastGood    time.Time // zero: never
	NextRefresh time.Time // zero: none planned
	Changed     time.Time
	// NotifyRounds: resolution rounds a DNS NOTIFY triggered; LastNotify: when
	// the last of them started (zero: none).
	NotifyRounds uint64
	LastNotify   time.Time
	// ChecksSkipped: health probes the daemon could not run for want of local
	// resources (file descriptors, memory, ports); the backends kept their
	// health. 0 from a daemon that does not count them (cache format before 1.2).
	ChecksSkipped uint64
}

// Backend is one backend of a service, as the daemon published it.
type Backend struct {
	Addr          netip.AddrPort // address and port
	Target        string         // SRV target (or the host name)
	Priority      uint16
	Weight        uint16
	Health        Health
	Source        Source
	Scheduled     bool      // in the pick schedule
	TTLExpiry     time.Time // when the DNS data for it expires
	Checks        uint32
	CheckFailures uint32
	LastLatency   time.Duration
	ConsecutiveOK uint16
	ConsecutiveNG uint16
	LastCheck     time.Time // zero: never
	CheckError    ErrorCode
	Key           uint64 // endpoint identity across generations
	// WeightSplit: the scheduled addresses of this backend's SRV record (same
	// target, port, priority and weight) that share its weight: the schedule
	// gives each Weight / WeightSplit. 0: not scheduled; 1: not split.
	WeightSplit int
}

func sameRecord(a, b *Backend) bool {
	return a.Source == SourceSRV && b.Source == SourceSRV && a.Addr.Port() == b.Addr.Port() &&
		a.Priority == b.Priority && a.Weight == b.Weight && a.Target == b.Target
}

// weightSplit fills WeightSplit: a record's backends are adjacent in the cache (docs/cache-format.md).
func weightSplit(bs []Backend) {
	for i := range bs {
		if !bs[i].Scheduled {
			continue
		}
		first, end := i, i+1
		for first > 0 && sameRecord(&bs[first-1], &bs[i]) {
			first--
		}
		for end < len(bs) && sameRecord(&bs[end], &bs[i]) {
			end++
		}
		for k := first; k < end; k++ {
			if bs[k].Scheduled {
				bs[i].WeightSplit++
			}
		}
	}
}

// TTLLeft is the time until the backend's DNS data expires, 0 when it has.
func (b *Backend) TTLLeft() time.Duration {
	if d := time.Until(b.TTLExpiry); d > 0 {
		return d
	}
	return 0
}

func usecTime(u int64) time.Time {
	if u == 0 {
		return time.Time{}
	}
	return time.UnixMicro(u)
}

// rawBackend: a backend's words as copied under the seqlock, decoded once the copy is known consistent.
type rawBackend [backendSize / 4]uint32

func (m *mapping) readBackend(off uint64, r *rawBackend) {
	for i := range r {
		r[i] = m.u32(off + uint64(i)*4)
	}
}

func (r *rawBackend) u64(off int) uint64 { return uint64(r[off/4]) | uint64(r[off/4+1])<<32 }

// sockaddr decodes the sockaddr words (bytes 0..31 of a backend, addrlen
// in byte 28) as dd_sockaddr_ok() accepts them: AF_INET with addrlen 16,
// AF_INET6 with 28.
func sockaddr(w *[8]uint32) (netip.Addr, uint16, bool) {
	family := uint16(w[0])
	port := uint16(w[0]>>16)<<8 | uint16(w[0]>>24) // network order
	addrlen := uint8(w[bAddrlen/4])
	if family == afInet && addrlen == 16 {
		a := w[1]
		return netip.AddrFrom4([4]byte{byte(a), byte(a >> 8), byte(a >> 16), byte(a >> 24)}), port, true
	}
	if family != afInet6 || addrlen != 28 {
		return netip.Addr{}, 0, false
	}
	// Bytes 8..23 in memory order: the words were loaded on a little-endian host.
	a := netip.AddrFrom16(*(*[16]byte)(unsafe.Pointer(&w[2])))
	if scope := w[6]; scope != 0 {
		// A link-local backend: the scope is part of its address (allocates; only these do).
		a = a.WithZone(strconv.FormatUint(uint64(scope), 10))
	}
	return a, port, true
}

func (r *rawBackend) sa() *[8]uint32 { return (*[8]uint32)(r[:8]) }

// targetOK is dd_target_copy()'s check: the name lies in the strings of the extent.
func targetOK(w *rawBackend, extentSize uint32, stringsStart uint64) (uint64, uint64, bool) {
	toff, tlen := uint64(w[bTargetOff/4]), uint64(w[bWeight/4]>>16)
	size := uint64(extentSize)
	if tlen >= targetMax || toff < stringsStart || toff > size || tlen >= size-toff {
		return 0, 0, false
	}
	return toff, tlen, true
}

// Snapshot returns a consistent copy of the service and all its backends
// (dnsdisc_snapshot()). Errors: ErrNoService (removed), ErrCorrupt, ErrBusy.
func (s *Service) Snapshot() (Info, []Backend, error) {
	info, backends, err := s.snapshot()
	return info, backends, wrap("snapshot", s.name, err)
}

func (s *Service) snapshot() (Info, []Backend, error) {
	rebinds := 0
	var raws []rawBackend
	var targets []byte
	for attempt := 0; attempt < readRetries; attempt++ {
		var v slotView
		var name [nameMax]byte
		var query [queryMax]byte
		b, seq, err := s.readBegin(&v)
		if err != nil {
			return Info{}, nil, err
		} else if b == nil {
			continue
		}
		m, slot := b.m, b.slot
		gen := m.u32(slot + sGeneration)
		e := m.u32(slot + sEligible)
		le := m.u32(slot + sLastError)
		lastGood := int64(m.u64(slot + sLastGood))
		nextRefresh := int64(m.u64(slot + sNextRefresh))
		changed := int64(m.u64(slot + sChanged))
		notifyRounds := m.u64(slot + sCounters + 8*sctrNotifyRounds)
		notifyLast := int64(m.u64(slot + sCounters + 8*sctrNotifyLast))
		checksSkipped := m.u64(slot + sCounters + 8*sctrChecksSkipped)
		m.copyBytes(name[:], slot+sName)
		m.copyBytes(query[:], slot+sQuery)
		if again, err := s.readEnd(b, &v, seq, &rebinds); err != nil {
			return Info{}, nil, err
		} else if again {
			continue
		}
		nl, ql := cstrlen(name[:]), cstrlen(query[:])
		if !m.extentOK(&v) || nl < 0 || ql < 0 {
			return Info{}, nil, ErrCorrupt
		}
		info := Info{
			Name: string(name[:nl]), Query: string(query[:ql]), Generation: gen,
			State: State(e >> 16), Panic: (e>>24)&svcPanic != 0, SRV: (e>>24)&svcSRV != 0,
			LastError: ErrorCode(uint16(le)), NHealthy: int(le >> 16), NBackends: int(v.nb), NScheduled: int(v.ne),
			LastGood: usecTime(lastGood), NextRefresh: usecTime(nextRefresh), Changed: usecTime(changed),
			NotifyRounds: notifyRounds, LastNotify: usecTime(notifyLast), ChecksSkipped: checksSkipped,
		}

		stringsStart := extentSize(v.nb, v.sl, v.ne)
		if cap(raws) < int(v.nb) {
			raws = make([]rawBackend, v.nb)
		}
		raws = raws[:v.nb]
		targets = targets[:0]
		bad := false
		for i := range raws {
			w := &raws[i]
			m.readBackend(v.extentOff+uint64(i)*backendSize, w)
			_, _, okAddr := sockaddr(w.sa())
			toff, tlen, okTarget := targetOK(w, v.extentSize, stringsStart)
			if !okAddr || !okTarget {
				bad = true
				break
			}
			n := len(targets)
			targets = append(targets, make([]byte, tlen)...)
			m.copyBytes(targets[n:], v.extentOff+toff)
		}
		if m.u32(slot+sSeq) != seq {
			continue
		}
		if bad {
			return Info{}, nil, ErrCorrupt
		}
		backends := make([]Backend, len(raws))
		toff := 0
		for i := range raws {
			w := &raws[i]
			addr, _, _ := sockaddr(w.sa())
			tlen := int(w[bWeight/4] >> 16)
			a := w[bAddrlen/4]
			backends[i] = Backend{
				Addr:          netip.AddrPortFrom(addr, uint16(w[bPort/4])),
				Target:        string(targets[toff : toff+tlen]),
				Priority:      uint16(w[bPort/4] >> 16),
				Weight:        uint16(w[bWeight/4]),
				Health:        health(uint8(a>>16), w[bFlags/4]),
				Source:        Source(a >> 24),
				Scheduled:     w[bFlags/4]&backendScheduled != 0,
				TTLExpiry:     usecTime(int64(w.u64(bTTL))),
				Checks:        w[bChecks/4],
				CheckFailures: w[bFailures/4],
				LastLatency:   time.Duration(w[bLatency/4]) * time.Microsecond,
				ConsecutiveOK: uint16(w[bConsec/4]),
				ConsecutiveNG: uint16(w[bConsec/4] >> 16),
				LastCheck:     usecTime(int64(w.u64(bLastCheck))),
				CheckError:    ErrorCode(uint16(w[bCheckErr/4])),
				Key:           w.u64(bKey),
			}
			toff += tlen
		}
		weightSplit(backends)
		return info, backends, nil
	}
	return Info{}, nil, ErrBusy
}
