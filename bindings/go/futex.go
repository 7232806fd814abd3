// SPDX-License-Identifier: LGPL-2.1-or-later
// futex.go: sleeping on a futex word of the cache file, as the writer wakes it, with a context that can end the sleep.

package dnsdisc

import (
	"context"
	"syscall"
	"time"
	"unsafe"
)

const (
	futexOpWait = 0
	futexOpWake = 1
)

// futexWait sleeps while the word at off of m holds val, for at most max or
// until ctx ends. Not FUTEX_PRIVATE: the writer wakes the word through its
// own mapping of the file, from another process. A context that ends wakes
// the word itself (FUTEX_WAKE needs only read access): other sleepers on the
// word, in this process or another, then see a spurious wake-up and look
// again, which every waiter must tolerate anyway.
func futexWait(ctx context.Context, m *mapping, off uint64, val uint32, max time.Duration) {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d < max {
			max = d
		}
	}
	if max <= 0 {
		return
	}
	addr := uintptr(m.base) + uintptr(off)
	var stop chan struct{}
	if done := ctx.Done(); done != nil {
		stop = make(chan struct{})
		go func() {
			select {
			case <-done:
				syscall.Syscall6(syscall.SYS_FUTEX, addr, futexOpWake, 1<<31-1, 0, 0, 0)
			case <-stop:
			}
		}()
		defer close(stop)
	}
	ts := syscall.NsecToTimespec(int64(max))
	// Relative timeout with FUTEX_WAIT: EAGAIN (changed), ETIMEDOUT, EINTR all mean "look again".
	syscall.Syscall6(syscall.SYS_FUTEX, addr, futexOpWait, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
}
