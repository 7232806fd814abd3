// SPDX-License-Identifier: LGPL-2.1-or-later
// writer_test.go: a minimal cache writer following docs/cache-format.md, for tests that change a file under the reader.

package dnsdisc

import (
	"encoding/binary"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

type twBackend struct {
	addr      netip.AddrPort
	target    string
	priority  uint16
	weight    uint16
	health    uint8
	scheduled bool
}

type twSet struct {
	backends []twBackend
	schedule []uint16
	state    uint8
	flags    uint8
	query    string
}

// testWriter owns one file; slots are assigned in order and never freed
// (removal retires them, as the daemon does, and a re-add takes a new one).
type testWriter struct {
	t        testing.TB
	path     string
	b        []byte
	nSlots   uint32
	heapOff  uint64
	heapSize uint64
	heapUsed uint64
	nextSlot uint32
	slots    map[string]uint32
	owned    map[uint32][2]uint64 // slot -> extent offset, bytes owned
	sets     map[string]twSet
	incNext  *uint64
	free     []uint32 // retired slots, reused first
}

func newTestWriter(t testing.TB, path string, nSlots uint32, heapSize uint64) *testWriter {
	inc := uint64(1)
	return createTestWriter(t, path, nSlots, heapSize, &inc)
}

func createTestWriter(t testing.TB, path string, nSlots uint32, heapSize uint64, inc *uint64) *testWriter {
	heapOff := (headerSize + uint64(nSlots)*serviceSize + 63) &^ 63
	size := heapOff + heapSize
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(int64(size)); err != nil {
		t.Fatal(err)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	w := &testWriter{t: t, path: path, b: b, nSlots: nSlots, heapOff: heapOff, heapSize: heapSize,
		slots: map[string]uint32{}, owned: map[uint32][2]uint64{}, sets: map[string]twSet{}, incNext: inc}
	le := binary.LittleEndian
	copy(b, "DNSDISC\x00")
	le.PutUint16(b[hVersionMajor:], 1)
	le.PutUint16(b[hVersionMinor:], 2) // 1.2: both heartbeats
	le.PutUint32(b[12:], headerSize)
	le.PutUint64(b[16:], size)
	le.PutUint64(b[24:], uint64(time.Now().UnixNano())|1)
	le.PutUint64(b[32:], headerSize)
	le.PutUint32(b[40:], serviceSize)
	le.PutUint32(b[44:], nSlots)
	le.PutUint64(b[48:], heapOff)
	le.PutUint64(b[56:], heapSize)
	le.PutUint32(b[76:], 1000)
	w.heartbeat()
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *testWriter) p32(off uint64) *uint32 { return (*uint32)(unsafe.Pointer(&w.b[off])) }
func (w *testWriter) p64(off uint64) *uint64 { return (*uint64)(unsafe.Pointer(&w.b[off])) }

func (w *testWriter) wake(off uint64) {
	syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(&w.b[off])), futexOpWake, 1<<31-1, 0, 0, 0)
}

func (w *testWriter) heartbeat() {
	atomic.StoreUint32(w.p32(hWriterPID), uint32(os.Getpid()))
	w.setStamps(0, 0)
}

// setHeartbeat: a heartbeat at t, on both clocks.
func (w *testWriter) setHeartbeat(t time.Time) {
	d := time.Until(t)
	w.setStamps(d, d)
}

// setStamps: the heartbeat at now + real on the wall clock and now + boot on the
// boot clock, as the C writer stores them (boot first).
func (w *testWriter) setStamps(real, boot time.Duration) {
	atomic.StoreUint64(w.p64(hHeartbeatBoot), uint64(bootNow()+boot.Microseconds()))
	atomic.StoreUint64(w.p64(hHeartbeat), uint64(time.Now().Add(real).UnixMicro()))
}

// setMinor rewrites version_minor: only before a reader maps the file (the first line is immutable).
func (w *testWriter) setMinor(minor uint16) {
	binary.LittleEndian.PutUint16(w.b[hVersionMinor:], minor)
}

func (w *testWriter) bumpCounter() {
	atomic.AddUint32(w.p32(hChangeCounter), 1)
	w.wake(hChangeCounter)
}

func (w *testWriter) slotOff(i uint32) uint64 { return headerSize + uint64(i)*serviceSize }

func (w *testWriter) seqBegin(slot uint64) uint32 {
	s := atomic.LoadUint32(w.p32(slot))
	atomic.StoreUint32(w.p32(slot), s|1)
	return s | 1
}

func (w *testWriter) seqEnd(slot uint64, odd uint32) { atomic.StoreUint32(w.p32(slot), odd+1) }

func (w *testWriter) bumpGen(slot uint64) {
	atomic.AddUint32(w.p32(slot+sGeneration), 1)
	w.wake(slot + sGeneration)
	w.bumpCounter()
}

// extent encodes set as the bytes of its extent.
func encodeExtent(set twSet) []byte {
	nb, sl := len(set.backends), len(set.schedule)
	var elig []uint16
	seen := map[uint16]bool{}
	for _, i := range set.schedule {
		seen[i] = true
	}
	for i := 0; i < nb; i++ {
		if seen[uint16(i)] {
			elig = append(elig, uint16(i))
		}
	}
	strStart := nb*backendSize + (sl+len(elig))*2
	size := strStart
	for _, be := range set.backends {
		size += len(be.target) + 1
	}
	e := make([]byte, size)
	le := binary.LittleEndian
	toff := strStart
	for i, be := range set.backends {
		r := e[i*backendSize:]
		a := be.addr.Addr()
		if a.Is4() {
			le.PutUint16(r[0:], afInet)
			binary.BigEndian.PutUint16(r[2:], be.addr.Port())
			a4 := a.As4()
			copy(r[4:], a4[:])
			r[28], r[29] = 16, 4
		} else {
			le.PutUint16(r[0:], afInet6)
			binary.BigEndian.PutUint16(r[2:], be.addr.Port())
			a16 := a.As16()
			copy(r[8:], a16[:])
			r[28], r[29] = 28, 6
		}
		r[30] = be.health
		le.PutUint16(r[32:], be.addr.Port())
		le.PutUint16(r[34:], be.priority)
		le.PutUint16(r[36:], be.weight)
		le.PutUint16(r[38:], uint16(len(be.target)))
		le.PutUint32(r[40:], uint32(toff))
		if seen[uint16(i)] {
			le.PutUint32(r[44:], backendScheduled)
		}
		le.PutUint64(r[48:], uint64(time.Now().Add(60*time.Second).UnixMicro()))
		le.PutUint64(r[56:], endpointKey(be.addr))
		copy(e[toff:], be.target)
		toff += len(be.target) + 1
	}
	for j, i := range set.schedule {
		le.PutUint16(e[nb*backendSize+2*j:], i)
	}
	for j, i := range elig {
		le.PutUint16(e[nb*backendSize+2*(sl+j):], i)
	}
	return e
}

// endpointKey is dd_endpoint_key().
func endpointKey(ap netip.AddrPort) uint64 {
	h := uint64(0xcbf29ce484222325)
	var fam byte = 4
	var addr []byte
	if ap.Addr().Is4() {
		a := ap.Addr().As4()
		addr = a[:]
	} else {
		fam = 6
		a := ap.Addr().As16()
		addr = a[:]
	}
	h = (h ^ uint64(fam)) * 0x100000001b3
	for _, c := range addr {
		h = (h ^ uint64(c)) * 0x100000001b3
	}
	h = (h ^ uint64(ap.Port()>>8)) * 0x100000001b3
	h = (h ^ uint64(ap.Port()&0xff)) * 0x100000001b3
	return h | 1
}

// publish writes set as service name: a new extent filled before the write
// section, or the old one rewritten inside it when it fits.
func (w *testWriter) publish(name string, set twSet) {
	le := binary.LittleEndian
	ext := encodeExtent(set)
	i, ok := w.slots[name]
	fresh := !ok
	if fresh && len(w.free) > 0 {
		i = w.free[0]
		w.free = w.free[1:]
		w.slots[name] = i
		// The slot's old extent may still be read by a reader racing the
		// switch: never reuse it, as the daemon does not.
		delete(w.owned, i)
	} else if fresh {
		if w.nextSlot >= w.nSlots {
			w.t.Fatalf("test writer: no free slot for %s", name)
		}
		i = w.nextSlot
		w.nextSlot++
		w.slots[name] = i
	}
	slot := w.slotOff(i)
	own := w.owned[i]
	inPlace := !fresh && uint64(len(ext)) <= own[1]
	if !inPlace {
		need := (uint64(len(ext))*5/4 + 7) &^ 7
		if w.heapUsed+need > w.heapSize {
			w.t.Fatalf("test writer: heap full")
		}
		own = [2]uint64{w.heapOff + w.heapUsed, need}
		w.heapUsed += need
		copy(w.b[own[0]:], ext)
		w.owned[i] = own
	}
	odd := w.seqBegin(slot)
	if inPlace {
		copy(w.b[own[0]:], ext)
	}
	s := w.b[slot:]
	if fresh {
		s[35] &^= svcMoved
		*w.incNext++
		le.PutUint64(s[8:], *w.incNext)
		var nm [nameMax]byte
		copy(nm[:], name)
		copy(s[sName:], nm[:])
	}
	q := set.query
	if q == "" {
		q = name + ".example"
	}
	var qb [queryMax]byte
	copy(qb[:], q)
	copy(s[sQuery:], qb[:])
	le.PutUint64(s[16:], own[0])
	le.PutUint32(s[24:], uint32(len(ext)))
	le.PutUint16(s[28:], uint16(len(set.backends)))
	le.PutUint16(s[30:], uint16(len(set.schedule)))
	ne := 0
	seen := map[uint16]bool{}
	for _, x := range set.schedule {
		if !seen[x] {
			seen[x] = true
			ne++
		}
	}
	le.PutUint16(s[32:], uint16(ne))
	s[34] = set.state
	s[35] = set.flags
	healthy := 0
	for _, be := range set.backends {
		if be.health == 1 {
			healthy++
		}
	}
	le.PutUint16(s[38:], uint16(healthy))
	w.seqEnd(slot, odd)
	w.bumpGen(slot)
	w.sets[name] = set
}

// remove retires name's slot (DD_SVC_MOVED, incarnation 0, counts 0).
func (w *testWriter) remove(name string) {
	i, ok := w.slots[name]
	if !ok {
		return
	}
	slot := w.slotOff(i)
	odd := w.seqBegin(slot)
	s := w.b[slot:]
	s[35] |= svcMoved
	binary.LittleEndian.PutUint64(s[8:], 0)
	for k := 24; k < 34; k++ {
		s[k] = 0
	}
	w.seqEnd(slot, odd)
	w.bumpGen(slot)
	delete(w.slots, name)
	delete(w.sets, name)
	w.free = append(w.free, i)
}

// replace makes a new file with every live service, renames it over the
// path, and marks this one replaced. The caller continues with the new writer.
func (w *testWriter) replace(nSlots uint32, heapSize uint64) *testWriter {
	n := createTestWriter(w.t, w.path+".new", nSlots, heapSize, w.incNext)
	for name, set := range w.sets {
		n.publish(name, set)
	}
	n.path = w.path
	if err := os.Rename(w.path+".new", w.path); err != nil {
		w.t.Fatal(err)
	}
	for _, i := range w.slots {
		slot := w.slotOff(i)
		odd := w.seqBegin(slot)
		w.b[slot+35] |= svcMoved
		w.seqEnd(slot, odd)
		atomic.AddUint32(w.p32(slot+sGeneration), 1)
		w.wake(slot + sGeneration)
	}
	atomic.StoreUint32(w.p32(hFlags), atomic.LoadUint32(w.p32(hFlags))|fileReplaced)
	w.bumpCounter()
	return n
}

func (w *testWriter) stop() {
	atomic.StoreUint32(w.p32(hFlags), atomic.LoadUint32(w.p32(hFlags))|fileStopped)
	w.bumpCounter()
}

func (w *testWriter) close() { syscall.Munmap(w.b) }
