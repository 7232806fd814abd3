// SPDX-License-Identifier: LGPL-2.1-or-later
// cache.go: opening the cache, following file replacements, finding services by name, staleness.

package dnsdisc

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// DefaultPath is where dnsdiscd publishes its cache; $DNSDISC_CACHE overrides it.
const (
	DefaultPath = "/run/dnsdisc/cache"
	PathEnv     = "DNSDISC_CACHE"
)

const (
	readRetries = 1000 // seqlock reads give up after this many attempts (DD_READ_RETRIES)
	rebindMax   = 4    // re-lookups of a moved service within one call (DD_REBIND_MAX)
	// While the newest file is replaced with nothing at the path (the daemon is
	// between files), or its heartbeat is stale, the path is looked at no more often than this.
	replacedRetry = 250 * time.Millisecond
	staleRecheck  = time.Second
)

var uidNext atomic.Uint64 // process-wide: a binding's uid never repeats

// Cache is an open cache file. It is safe for concurrent use by many
// goroutines. Close it only when no goroutine uses it or its services any
// more: Close unmaps the files they read.
type Cache struct {
	path     string
	seed     uint64
	cur      unsafe.Pointer // *mapping, the newest (atomic.Pointer's Load is a call in Go 1.19; picks read it)
	mu       sync.Mutex     // serialises remapping, rebinding, handle creation
	maps     []*mapping     // every mapping, unmapped by Close only
	services map[string]*Service
	closed   bool
	// Now()'s nanoseconds of the last look at the path for a stale or replaced file.
	lastStaleCheck int64
}

// Open maps the cache file at path ("": $DNSDISC_CACHE, else DefaultPath).
// Errors: ErrNoCache (also fs.ErrNotExist), ErrCorrupt, ErrIncompatible, or
// the OS error (e.g. permission denied), each wrapped with the path.
func Open(path string) (*Cache, error) {
	if path == "" {
		path = os.Getenv(PathEnv)
		if path == "" {
			path = DefaultPath
		}
	}
	if !littleEndian() {
		return nil, wrap("open", path, ErrIncompatible)
	}
	m, err := mapFile(path)
	if err != nil {
		return nil, wrap("open", path, err)
	}
	c := &Cache{path: path, maps: []*mapping{m}, services: map[string]*Service{}}
	// Processes started together must not all begin their schedules at the same backend.
	var b [8]byte
	if _, err := rand.Read(b[:]); err == nil {
		c.seed = binary.LittleEndian.Uint64(b[:])
	} else {
		c.seed = mix64(uint64(time.Now().UnixNano()) ^ uint64(os.Getpid())<<32)
	}
	c.setCurrent(m)
	return c, nil
}

func (c *Cache) current() *mapping     { return (*mapping)(atomic.LoadPointer(&c.cur)) }
func (c *Cache) setCurrent(m *mapping) { atomic.StorePointer(&c.cur, unsafe.Pointer(m)) }

func littleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

// Path is the cache file's path.
func (c *Cache) Path() string { return c.path }

// Close unmaps every file. The Cache and its services must not be used after.
func (c *Cache) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	for _, m := range c.maps {
		m.unmap()
	}
	c.maps = nil
	return nil
}

func monoNow() int64 { return int64(time.Since(monoEpoch)) }

var monoEpoch = time.Now()

// refreshLocked maps the file now at the path if it is not the newest mapping.
// Unless force, it looks only when the newest mapping says it was replaced or
// its writer stopped, or (at most once a second) when its heartbeat is stale:
// a restarted writer may have made a new file. True if a newer mapping was installed.
func (c *Cache) refreshLocked(force bool) (bool, error) {
	if c.closed {
		return false, ErrClosed
	}
	cur := c.current()
	if !force {
		now := monoNow()
		if cur.flags()&(fileReplaced|fileStopped) != 0 {
			if now-c.lastStaleCheck < int64(replacedRetry) {
				return false, nil
			}
		} else if !cur.stale() || now-c.lastStaleCheck < int64(staleRecheck) {
			return false, nil
		}
		c.lastStaleCheck = now
	}
	var st syscall.Stat_t
	if err := syscall.Stat(c.path, &st); err != nil {
		return false, &os.PathError{Op: "stat", Path: c.path, Err: err}
	}
	if uint64(st.Dev) == cur.dev && st.Ino == cur.ino {
		return false, nil
	}
	m, err := mapFile(c.path)
	if err != nil {
		return false, err
	}
	c.maps = append(c.maps, m)
	c.setCurrent(m)
	return true, nil
}

func (c *Cache) refresh() {
	c.mu.Lock()
	_, _ = c.refreshLocked(false)
	c.mu.Unlock()
}

// findLocked finds name in the newest mapping, looking for a newer file once if it is not there.
func (c *Cache) findLocked(name string) (*mapping, uint64, uint64, error) {
	if _, err := c.refreshLocked(false); err == ErrClosed {
		return nil, 0, 0, err
	}
	m := c.current()
	slot, inc, err := m.find(name)
	if err == ErrNoService {
		if ok, _ := c.refreshLocked(true); ok {
			m = c.current()
			slot, inc, err = m.find(name)
		}
	}
	return m, slot, inc, err
}

// identity reads whether the slot is live and, if name is given, its name
// (dd_slot_identity()): live, incarnation, error (ErrBusy, ErrCorrupt).
func (m *mapping) identity(slot uint64, name *[nameMax]byte) (bool, uint64, error) {
	for attempt := 0; attempt < readRetries; attempt++ {
		seq := m.u32(slot + sSeq)
		if seq&1 != 0 {
			relax()
			continue
		}
		inc := m.u64(slot + sIncarnation)
		live := inc != 0 && uint8(m.u32(slot+sEligible)>>24)&svcMoved == 0
		if live && name != nil {
			m.copyBytes(name[:], slot+sName)
		}
		if m.u32(slot+sSeq) != seq {
			continue
		}
		if !live {
			return false, 0, nil
		}
		if name != nil && cstrlen(name[:]) < 0 {
			return false, 0, ErrCorrupt
		}
		return true, inc, nil
	}
	return false, 0, ErrBusy
}

func cstrlen(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// find is dd_map_find(): the live slot named name. ErrNoService, or ErrBusy if some slot could not be read.
func (m *mapping) find(name string) (uint64, uint64, error) {
	busy := false
	var buf [nameMax]byte
	for i := uint32(0); i < m.geo.nSlots; i++ {
		slot := m.slot(i)
		// Cheap reject before the consistent read.
		if m.u64(slot+sIncarnation) == 0 && m.u32(slot+sSeq)&1 == 0 {
			continue
		}
		live, inc, err := m.identity(slot, &buf)
		if err == ErrBusy {
			busy = true
		}
		if err != nil || !live {
			continue
		}
		if n := cstrlen(buf[:]); string(buf[:n]) == name {
			return slot, inc, nil
		}
	}
	if busy {
		return 0, 0, ErrBusy
	}
	return 0, 0, ErrNoService
}

// Service returns the handle of the named service, the same one for every
// call with that name. Errors: ErrNoService, ErrCorrupt, ErrBusy, ErrClosed,
// each wrapped with the name.
func (c *Cache) Service(name string) (*Service, error) {
	if len(name) >= nameMax {
		return nil, wrap("service", name, ErrNoService)
	}
	c.mu.Lock()
	s, ok := c.services[name]
	if !ok {
		m, slot, inc, err := c.findLocked(name)
		if err != nil {
			c.mu.Unlock()
			return nil, wrap("service", name, err)
		}
		uid := uidNext.Add(1)
		s = &Service{c: c, name: name, seed: mix64(c.seed + uid), errNoBackend: wrap("pick", name, ErrNoBackend)}
		s.startDraws()
		s.bind.Store(&binding{m: m, slot: slot, inc: inc, uid: uid})
		c.services[name] = s
	}
	c.mu.Unlock()
	if ok {
		// An existing handle: the service may have gone, or moved, since.
		if _, err := s.live(); err != nil {
			return nil, wrap("service", name, err)
		}
	}
	return s, nil
}

// Services lists the names of the services in the cache now, in slot order.
func (c *Cache) Services() []string {
	c.refresh()
	m := c.current()
	var names []string
	var buf [nameMax]byte
	for i := uint32(0); i < m.geo.nSlots; i++ {
		if live, _, err := m.identity(m.slot(i), &buf); err == nil && live {
			names = append(names, string(buf[:cstrlen(buf[:])]))
		}
	}
	return names
}

// Stale reports whether the daemon stopped refreshing: it exited cleanly, or
// its heartbeat is older than three intervals. Stale data stays readable.
func (c *Cache) Stale() bool {
	c.refresh()
	return c.current().stale()
}

// ChangeCounter returns the cache-wide change counter, which moves after any
// service's generation does, on replacement and on a clean stop.
func (c *Cache) ChangeCounter() uint32 {
	c.refresh()
	return c.current().changeCounter()
}

// WaitChange blocks until the change counter differs from counter, the file
// was replaced, or ctx ends (then ctx.Err()). While the newest file is marked
// replaced and nothing new is at the path yet, it sleeps and looks again at a
// bounded rate instead of returning at once.
func (c *Cache) WaitChange(ctx context.Context, counter uint32) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.mu.Lock()
		installed, _ := c.refreshLocked(false)
		c.mu.Unlock()
		if installed {
			return nil
		}
		m := c.current()
		if m.flags()&fileReplaced != 0 {
			if err := sleepCtx(ctx, replacedRetry); err != nil {
				return err
			}
			continue
		}
		if m.changeCounter() != counter {
			return nil
		}
		futexWait(ctx, m, hChangeCounter, counter, staleRecheck)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// relax lets a writer in the middle of a write section finish: 1000 retries
// then last about as long as libdnsdisc's 1000 spins with a pause instruction.
func relax() { runtime.Gosched() }

// splitmix64's finaliser: spreads seeds so that close inputs start far apart.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
