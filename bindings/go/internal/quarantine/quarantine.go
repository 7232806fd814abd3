// SPDX-License-Identifier: LGPL-2.1-or-later

// Package quarantine is the per-process endpoint quarantine of libdnsdisc(3),
// shared by the reader's picks and the gRPC balancer: a reported failure
// keeps an endpoint out of picks for 1 s, a failure reported after that
// quarantine ran out for twice as long (at most 30 s), a success ends it and
// resets its length. At most 16 endpoints are remembered; a new one replaces
// a free entry, else the one whose quarantine ends first. Callers ignore the
// quarantine when it would leave nothing to pick.
package quarantine

import (
	"sync"
	"sync/atomic"
	"time"
)

const (
	// Slots is the number of endpoints remembered at once.
	Slots = 16
	// Min is the first quarantine of an endpoint.
	Min = time.Second
	// Max bounds the doubling.
	Max = 30 * time.Second
)

var epoch = time.Now()

// Now is the clock of every Table, monotonic nanoseconds; tests replace it.
var Now = func() int64 { return int64(time.Since(epoch)) }

type entry struct {
	key     uint64 // 0: free
	until   int64  // Now() when it ends; 0: not in force (backoff remembered)
	backoff time.Duration
}

// Table is one service's quarantine. The zero value is ready; it must not be copied.
type Table struct {
	mu     sync.Mutex
	active atomic.Int32 // entries with until != 0: lets picks skip the table while none is in force
	known  atomic.Int32 // entries with key != 0: lets successes skip the table while it is empty
	e      [Slots]entry
}

// Active reports whether any quarantine may be in force (cheap: one atomic load).
func (t *Table) Active() bool { return t.active.Load() != 0 }

// Known reports whether any endpoint is remembered, in force or not (cheap).
func (t *Table) Known() bool { return t.known.Load() != 0 }

// expire retires ended quarantines. Under t.mu.
func (t *Table) expire(now int64) {
	for i := range t.e {
		if q := &t.e[i]; q.until != 0 && q.until <= now {
			q.until = 0
			t.active.Add(-1)
		}
	}
}

// Quarantined reports whether key is quarantined now.
func (t *Table) Quarantined(key uint64) bool {
	now := Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expire(now)
	for i := range t.e {
		if t.e[i].key == key {
			return t.e[i].until > now
		}
	}
	return false
}

// Skip returns the first position from pos (wrapping over n) whose key is not
// quarantined, and how many positions it stepped over; pos itself and 0 when
// all are quarantined. keyAt returns false for an index it cannot read, which
// ends the walk with ok false.
func (t *Table) Skip(n, pos uint32, keyAt func(p uint32) (uint64, bool)) (p, skipped uint32, ok bool) {
	now := Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expire(now)
	p = pos
	for tries := uint32(0); tries < n; tries++ {
		key, good := keyAt(p)
		if !good {
			return pos, 0, false
		}
		if !t.quarantinedLocked(key, now) {
			return p, tries, true
		}
		if p++; p >= n {
			p = 0
		}
	}
	return pos, 0, true
}

func (t *Table) quarantinedLocked(key uint64, now int64) bool {
	for i := range t.e {
		if t.e[i].key == key {
			return t.e[i].until > now
		}
	}
	return false
}

// Failure starts or extends key's quarantine. Failures of connections made
// before the quarantine began are the same incident: only a failure reported
// after it ran out doubles the next one.
func (t *Table) Failure(key uint64) {
	if key == 0 {
		return
	}
	now := Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var q *entry
	for i := range t.e {
		if t.e[i].key == key {
			q = &t.e[i]
			break
		}
	}
	if q == nil {
		for i := range t.e {
			c := &t.e[i]
			if c.key == 0 {
				q = c
				break
			}
			if q == nil || c.until < q.until {
				q = c
			}
		}
		if q.until != 0 {
			t.active.Add(-1)
		}
		if q.key == 0 {
			t.known.Add(1)
		}
		*q = entry{key: key}
	}
	if q.until == 0 || q.until <= now {
		backoff := Min
		if q.backoff != 0 {
			backoff = q.backoff * 2
		}
		if backoff > Max {
			backoff = Max
		}
		q.backoff = backoff
		if q.until == 0 {
			t.active.Add(1)
		}
		q.until = now + int64(backoff)
	}
}

// Success ends key's quarantine and forgets its length.
func (t *Table) Success(key uint64) {
	if key == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.e {
		if q := &t.e[i]; q.key == key {
			if q.until != 0 {
				t.active.Add(-1)
			}
			t.known.Add(-1)
			*q = entry{}
			return
		}
	}
}
