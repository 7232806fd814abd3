// SPDX-License-Identifier: LGPL-2.1-or-later
// mapping.go: one read-only mapping of a cache file, its header geometry, and the word loads every read goes through.

package dnsdisc

import (
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Layout of docs/cache-format.md (libclient/cache-def.h): offsets of the fields read here.
const (
	headerSize   = 512
	serviceSize  = 768
	backendSize  = 96
	nameMax      = 128
	queryMax     = 256
	targetMax    = 256
	backendsMax  = 1024
	schedMax     = 4096
	slotsMax     = 1000000
	extentMax    = 16 << 20
	versionMajor = 1

	hVersionMajor  = 8
	hVersionMinor  = 10
	hFlags         = 64
	hChangeCounter = 68
	hWriterPID     = 72
	hHeartbeatIntv = 76
	hHeartbeat     = 80
	hStarted       = 88
	hHeartbeatBoot = 104 // 1.2: CLOCK_BOOTTIME of the last heartbeat

	fileReplaced = 1
	fileStopped  = 2

	sSeq         = 0
	sGeneration  = 4
	sIncarnation = 8
	sExtentOff   = 16
	sExtentSize  = 24
	sCounts      = 28 // n_backends | sched_len << 16
	sEligible    = 32 // n_eligible | state << 16 | flags << 24
	sLastError   = 36 // last_error | n_healthy << 16
	sLastGood    = 40
	sNextRefresh = 48
	sChanged     = 56
	sName        = 64
	sQuery       = 192
	sCounters    = 448 // counters[32], DD_SCTR_*
	sHashKind    = 704 // hash_kind, reserved1[3] (1.1)
	sHashSize    = 708
	sHashOff     = 712

	svcPanic = 1
	svcMoved = 2
	svcSRV   = 4

	bAddrlen   = 28 // addrlen | family << 8 | health << 16 | source << 24
	bPort      = 32 // port | priority << 16
	bWeight    = 36 // weight | target_len << 16
	bTargetOff = 40
	bFlags     = 44
	bTTL       = 48
	bKey       = 56
	bChecks    = 64
	bFailures  = 68
	bLatency   = 72
	bConsec    = 76 // consecutive_ok | consecutive_fail << 16
	bLastCheck = 80
	bCheckErr  = 88

	sctrNotifyRounds  = 10 // DD_SCTR_NOTIFY_ROUNDS
	sctrNotifyLast    = 11 // not a count: CLOCK_REALTIME µs of the last NOTIFY round
	sctrChecksSkipped = 12 // DD_SCTR_CHECKS_SKIPPED (1.2)

	backendScheduled = 1
	backendUnchecked = 2 // check = none: health reads up because DNS publishes it

	afInet  = 2
	afInet6 = 10
)

// geometry is the header's first cache line, copied and checked once per
// mapping: the reader never looks at those header bytes again, so a header
// changed under a live mapping cannot move any bound it checks against.
type geometry struct {
	servicesOff uint64
	serviceSize uint64
	nSlots      uint32
	heapOff     uint64
	heapEnd     uint64 // heap_offset + heap_size, no overflow
	minor       uint16 // version_minor: which later header fields the writer keeps (1.2: the boot heartbeat)
}

// mapping is a cache file mapped PROT_READ. It is unmapped only by Cache.Close:
// goroutines may still read a replaced file through an old binding.
type mapping struct {
	data []byte
	base unsafe.Pointer
	size uint64 // the mapping's own size (fstat), never file_size
	geo  geometry
	dev  uint64
	ino  uint64
}

// Word loads. Every offset is checked against size by the caller before the
// load; a load of an aligned word never crosses a page, so the bytes of the
// word beyond a checked byte are mapped too (they lie in its page).
func (m *mapping) u32(off uint64) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Add(m.base, uintptr(off))))
}

func (m *mapping) u64(off uint64) uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Add(m.base, uintptr(off))))
}

func (m *mapping) u16(off uint64) uint16 {
	return uint16(m.u32(off&^3) >> ((off & 2) * 8))
}

// copyBytes copies n bytes at off into dst through aligned word loads.
func (m *mapping) copyBytes(dst []byte, off uint64) {
	n := uint64(len(dst))
	i := uint64(0)
	for i < n {
		a := (off + i) &^ 3
		w := m.u32(a)
		for s := off + i - a; s < 4 && i < n; s++ {
			dst[i] = byte(w >> (s * 8))
			i++
		}
	}
}

func (m *mapping) flags() uint32         { return m.u32(hFlags) }
func (m *mapping) changeCounter() uint32 { return m.u32(hChangeCounter) }

// validate is dd_validate_header() over the first cache line.
func validate(m *mapping) error {
	var magic [8]byte
	m.copyBytes(magic[:], 0)
	if m.size < headerSize || string(magic[:]) != "DNSDISC\x00" {
		return ErrCorrupt
	}
	if m.u16(hVersionMajor) != versionMajor {
		return ErrIncompatible
	}
	hsize := uint64(m.u32(12))
	fileSize := m.u64(16)
	servicesOff := m.u64(32)
	ssize := uint64(m.u32(40))
	nSlots := m.u32(44)
	heapOff := m.u64(48)
	heapSize := m.u64(56)
	if hsize < headerSize || hsize&7 != 0 || ssize < serviceSize || ssize&7 != 0 || nSlots > slotsMax {
		return ErrCorrupt
	}
	if fileSize > m.size || fileSize < hsize {
		return ErrCorrupt
	}
	if servicesOff < hsize || servicesOff&7 != 0 {
		return ErrCorrupt
	}
	// nSlots <= 1e6 and ssize < 2^32: the product fits in 64 bits.
	servicesEnd := servicesOff + uint64(nSlots)*ssize
	if servicesEnd < servicesOff || servicesEnd > fileSize {
		return ErrCorrupt
	}
	if heapOff < servicesEnd || heapOff&7 != 0 {
		return ErrCorrupt
	}
	heapEnd := heapOff + heapSize
	if heapEnd < heapOff || heapEnd > fileSize {
		return ErrCorrupt
	}
	m.geo = geometry{servicesOff: servicesOff, serviceSize: ssize, nSlots: nSlots, heapOff: heapOff, heapEnd: heapEnd,
		minor: m.u16(hVersionMinor)}
	return nil
}

func (m *mapping) slot(i uint32) uint64 { return m.geo.servicesOff + uint64(i)*m.geo.serviceSize }

// extentOK is dd_extent_ok(): an extent described by (possibly torn) slot
// values lies in the heap and the mapping, and its counts fit its size.
func (m *mapping) extentOK(v *slotView) bool {
	g := &m.geo
	off, size := v.extentOff, uint64(v.extentSize)
	return off >= g.heapOff && size <= extentMax && off <= g.heapEnd && size <= g.heapEnd-off &&
		off <= m.size && size <= m.size-off && off&7 == 0 && v.nb <= backendsMax &&
		v.sl <= schedMax && v.ne <= v.nb &&
		extentSize(v.nb, v.sl, v.ne) <= size
}

func extentSize(nb, sl, ne uint32) uint64 {
	return uint64(nb)*backendSize + (uint64(sl)+uint64(ne))*2
}

// slotView: the slot fields that locate and size its extent (read by readBegin).
type slotView struct {
	inc        uint64
	extentOff  uint64
	extentSize uint32
	nb, sl, ne uint32
	flags      uint8
}

// mapFile maps path read-only and checks its header (dd_map_open()). OS
// errors are bare syscall.Errno values: the caller names the path.
func mapFile(path string) (*mapping, error) {
	// O_NONBLOCK: a FIFO planted at the path must not block the caller.
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Size < headerSize || uint64(st.Size) > uint64(^uint(0)>>1) {
		return nil, ErrCorrupt
	}
	data, err := syscall.Mmap(fd, 0, int(st.Size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	m := &mapping{data: data, base: unsafe.Pointer(&data[0]), size: uint64(st.Size), dev: uint64(st.Dev), ino: st.Ino}
	if err := validate(m); err != nil {
		syscall.Munmap(data)
		return nil, err
	}
	return m, nil
}

func (m *mapping) unmap() {
	if m.data != nil {
		syscall.Munmap(m.data)
		m.data = nil
	}
}
