// SPDX-License-Identifier: LGPL-2.1-or-later

// Package dnsdisc reads the cache file that dnsdiscd publishes
// (docs/cache-format.md) and picks endpoints from it, in pure Go: the same
// reader as libdnsdisc(3), with the same schedule walk, quarantine, remapping
// and errors.
//
//	c, err := dnsdisc.Open("")       // "": $DNSDISC_CACHE, else /run/dnsdisc/cache
//	defer c.Close()
//	s, err := c.Service("api")
//	ep, err := s.Pick()              // ep.Addr is a netip.AddrPort
//	...
//	s.ReportFailure(ep)              // or s.ReportSuccess(ep)
//
// # Behaviour
//
// Pick walks the daemon's pick schedule round robin, per service. While one
// goroutine at a time picks, the process walks one position, exactly as one
// libdnsdisc thread does. libdnsdisc keeps a position per thread, so that
// threads picking at once share no written cache line; goroutines have no
// thread identity, so once two goroutines meet on the position, Pick hashes
// the address of its goroutine's stack (the cheapest stable stand-in) to one
// of 16 positions, each on cache lines of its own. Two goroutines on one
// stripe are still correct, only slower; a goroutine whose stack the runtime
// moves may continue on another stripe. Every position walks the whole
// schedule, so each backend gets its share per stripe and in the process.
// Each starts at its own random point, so that processes started together do
// not all begin with the same backend.
// PickRandom draws a uniformly random entry of the schedule, so each backend
// gets the share Pick gives it. PickHash maps a key through the Maglev table
// the daemon publishes (format 1.1), as dnsdisc_pick_hash(); PickLeast and
// Release are dnsdisc_pick_least() and dnsdisc_release(). A reported
// failure quarantines the endpoint in this process: picks skip it for 1 s,
// twice as long after each failure reported once a quarantine ran out (at
// most 30 s); when every backend of the schedule is quarantined, picks ignore
// the quarantine rather than return nothing.
//
// When the daemon replaces the file (it grew) or a restarted daemon makes a
// new one, the handles follow their services to it on their next call; the
// old mapping stays valid until Close. While the daemon's heartbeat is stale
// the path is looked at no more than once a second; while the newest file is
// marked replaced and nothing is at the path yet, no more than four times a
// second.
//
// # Why the reads are correct
//
// The writer (another process) changes a service's slot and its extent
// under the slot's sequence counter, a seqlock: seq is odd while it writes
// (docs/cache-format.md, "The seqlock"). This reader
//
//   - reads every word of the mapping, the sequence counters, generations,
//     flags and heartbeat as well as the data fields, with sync/atomic loads
//     of aligned 32- and 64-bit words (8- and 16-bit fields and strings are
//     extracted from the words that hold them). Go's atomic operations are
//     sequentially consistent: the data loads of a read cannot be reordered
//     before its first load of seq nor after its second, by the compiler or
//     the processor, which is what the reader's acquire fence provides in C.
//     On amd64 these loads are plain MOVs, on arm64 LDAR;
//   - copies what it reads into local variables first and decodes or trusts
//     them only after seq was found unchanged and even; a read that saw any
//     store of a later write section sees seq moved, discards the copy and
//     retries, at most 1000 times (then ErrBusy). Pick works from such a
//     copy: on the first pick after a change it copies the slot's schedule,
//     eligible list and backends (decoded to netip.AddrPort) into a cursor;
//     every later pick loads the slot's seq once and, while it is the seq
//     the cursor was copied at, nothing under the seqlock has changed, so the
//     copy is still the file's content and the pick is an index into it;
//   - bounds-checks every offset and count it takes from a slot before it
//     uses it to address the mapping, against the header geometry and
//     against the mapping's own size: the geometry (slot array, heap) is
//     copied and validated once per mapping when the file is mapped, and
//     never read from the file again, so a header changed under a live
//     mapping cannot move a bound; extents are checked as dd_extent_ok()
//     does, with differences so that a garbage offset cannot wrap; backend
//     indices from the schedule against n_backends; target names against
//     the extent. A torn read can thus yield a wrong value, which the seq
//     check discards, but never an address outside the mapping;
//   - maps exactly the size fstat() reported, never file_size, and the
//     writer never shrinks a live file, so no load can touch a page past the
//     end of the file (SIGBUS). A word load never crosses a page boundary,
//     so the bytes it reads beyond a checked byte lie in the same, mapped,
//     page.
//
// The race detector does not see these accesses (the memory is not Go's)
// and the Go memory model does not cover another process's stores; the
// argument above is the one of Boehm's "Can Seqlocks Get Along with
// Programming Language Memory Models?" applied to sequentially consistent
// atomics.
//
// Pick and PickRandom allocate nothing; the cursor is allocated once per
// change of the service.
//
// Waiting (Service.Wait, Cache.WaitChange) sleeps on the 32-bit futex words
// the daemon wakes (FUTEX_WAIT on a shared mapping), with at most a second
// per sleep so that a stale daemon's path is looked at.
//
// Linux only, little-endian hosts only (the format is little-endian).
package dnsdisc
