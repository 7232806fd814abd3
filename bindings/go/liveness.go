// SPDX-License-Identifier: LGPL-2.1-or-later
// liveness.go: whether the cache's writer is gone, by the rule of docs/cache-format.md (libclient/map.c).

package dnsdisc

import (
	"math"
	"syscall"
	"time"
	"unsafe"
)

// clockBoottime is Linux's CLOCK_BOOTTIME: the syscall package names no clock ids.
const clockBoottime = 7

// bootNow is CLOCK_BOOTTIME in µs, or -1 when it cannot be read. The writer
// stamps its heartbeat on this clock because nothing sets it (NTP and date -s
// step CLOCK_REALTIME) and it runs on through a suspend (CLOCK_MONOTONIC, which
// Go's time package reads, does not). Go 1.19's time and syscall packages do
// not read it, and the binding stays pure Go without golang.org/x/sys, so it
// is one clock_gettime system call: raw, since it never blocks. syscall.Timespec
// is the kernel's struct timespec of the platform, as clock_gettime fills it.
func bootNow() int64 {
	var ts syscall.Timespec
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockBoottime, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return -1
	}
	return int64(ts.Sec)*1000000 + int64(ts.Nsec)/1000
}

// edgeBefore is now - limit (limit > 0), or math.MinInt64 below the range: nothing is older than that.
func edgeBefore(now, limit int64) int64 {
	if now < math.MinInt64+limit {
		return math.MinInt64
	}
	return now - limit
}

// heartbeatLate is dd_heartbeat_late(): whether a heartbeat is older than three
// intervals (at least 3 s). The boot-clock stamp decides when the file's minor
// is at least 2, the stamp is nonzero, nowBoot is known (>= 0) and the stamp is
// at most that limit ahead of it (further ahead it is another boot's: a file
// kept on a disk across a reboot, or a reader in another time namespace); the
// wall-clock stamp otherwise. The file's values may be anything: nothing wraps.
func heartbeatLate(minor uint16, intervalMs uint32, real, boot, nowReal, nowBoot int64) bool {
	limit := int64(intervalMs) * 3000
	if limit < 3000000 {
		limit = 3000000
	}
	if minor >= 2 && boot != 0 && nowBoot >= 0 && (nowBoot > math.MaxInt64-limit || boot <= nowBoot+limit) {
		return boot < edgeBefore(nowBoot, limit)
	}
	return real < edgeBefore(nowReal, limit)
}

// stale: the writer stopped cleanly, or its heartbeat is late by heartbeatLate with the clocks read now.
func (m *mapping) stale() bool {
	if m.flags()&fileStopped != 0 {
		return true
	}
	// The writer stores the boot stamp first and the wall-clock one last.
	real := int64(m.u64(hHeartbeat))
	boot := int64(m.u64(hHeartbeatBoot))
	nowBoot := int64(-1)
	if m.geo.minor >= 2 {
		nowBoot = bootNow()
	}
	return heartbeatLate(m.geo.minor, m.u32(hHeartbeatIntv), real, boot, time.Now().UnixMicro(), nowBoot)
}
