// SPDX-License-Identifier: LGPL-2.1-or-later
// pick_test.go: Pick's round-robin positions: one exact walk for a lone goroutine, stripes once goroutines contend, shares across them.

package dnsdisc

import (
	"path/filepath"
	"sync"
	"testing"
)

// twoSet: two backends of equal weight, schedule [a b]: a walk alternates.
func twoSet() twSet {
	return twSet{
		backends: []twBackend{
			{addr: ap("127.0.0.1:80"), target: "a.example", priority: 10, weight: 1, health: 1, scheduled: true},
			{addr: ap("127.0.0.2:80"), target: "b.example", priority: 10, weight: 1, health: 1, scheduled: true},
		},
		schedule: []uint16{0, 1},
		state:    1,
		flags:    svcSRV,
	}
}

func pickService(t *testing.T, set twSet) *Service {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cache")
	w := newTestWriter(t, path, 4, 1<<16)
	t.Cleanup(w.close)
	w.publish("api", set)
	c := openTest(t, path)
	s, err := c.Service("api")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Once goroutines have contended (set by hand here: lockstep picks never
// collide), two goroutines pick in lockstep (channels order every pick, no
// timing): with one process-wide position, each would get every other entry
// of the schedule [a b], the same backend every time. With a position per stripe,
// a goroutine walks its own: it alternates, unless the two happen to share
// a stripe (1 in 16 pairs). Every pair's goroutines stay alive to the end,
// so that each pair runs on stacks of its own, not on the last pair's
// (the runtime reuses a finished goroutine with its stack).
func TestPickContendedGoroutinesInLockstepWalkTheScheduleApart(t *testing.T) {
	s := pickService(t, twoSet())
	s.contended.Store(true)
	const pairs, rounds = 8, 16
	hold := make(chan struct{})
	var alive sync.WaitGroup
	defer func() { close(hold); alive.Wait() }()
	alternating := 0
	for p := 0; p < pairs; p++ {
		var got [rounds]uint64
		var errs [2]error
		toA, toB := make(chan struct{}), make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(2)
		alive.Add(2)
		// Each goroutine's first round is a warm-up: its stack grows to what
		// a pick needs, and then stays put (no allocation in the loop, so no
		// collection that could shrink it).
		go func() {
			defer alive.Done()
			for r := -1; r < rounds; r++ {
				e, err := s.Pick()
				if err != nil && errs[0] == nil {
					errs[0] = err
				}
				if r >= 0 {
					got[r] = e.Key()
				}
				toB <- struct{}{}
				<-toA
			}
			close(toB)
			wg.Done()
			<-hold
		}()
		go func() {
			defer alive.Done()
			for range toB {
				if _, err := s.Pick(); err != nil && errs[1] == nil {
					errs[1] = err
				}
				toA <- struct{}{}
			}
			wg.Done()
			<-hold
		}()
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("pair %d: %v, %v", p, errs[0], errs[1])
		}
		ok := true
		for r := 1; r < rounds; r++ {
			if got[r] == got[r-1] {
				ok = false
			}
		}
		if ok {
			alternating++
		}
	}
	// Failing by chance needs 5 of 8 pairs on one stripe: about 1 in 20000.
	if alternating < pairs/2 {
		t.Fatalf("%d of %d goroutines picking in lockstep with another walked [a b] alternately, want at least %d",
			alternating, pairs, pairs/2)
	}
}

// Many goroutines at once: every stripe walks the schedule round robin, so
// any 4 consecutive positions of [b a b b] hold one a, and the process's
// count of a is within one per stripe of a quarter of all picks.
func TestPickSharesHoldAcrossGoroutines(t *testing.T) {
	s := pickService(t, threeSet())
	const goroutines, picks = 8, 4000
	var counts [goroutines]struct{ a, b, other int }
	var errs [goroutines]error
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < picks; i++ {
				e, err := s.Pick()
				if err != nil {
					errs[g] = err
					return
				}
				switch e.Addr {
				case ap("127.0.0.1:80"):
					counts[g].a++
				case ap("[2001:db8::2]:8080"):
					counts[g].b++
				default:
					counts[g].other++
				}
			}
		}(g)
	}
	wg.Wait()
	a, b, other := 0, 0, 0
	for g := range counts {
		if errs[g] != nil {
			t.Fatal(errs[g])
		}
		a, b, other = a+counts[g].a, b+counts[g].b, other+counts[g].other
	}
	total := goroutines * picks
	if other != 0 || a+b != total || a < total/4-posStripes || a > total/4+posStripes {
		t.Fatalf("%d picks over %d goroutines: a %d, b %d, other %d; want a within %d of %d",
			total, goroutines, a, b, other, posStripes, total/4)
	}
}

// stripeHere: one frame, whatever the caller inlines.
//
//go:noinline
func stripeHere() uint32 { return posStripeOf() }

// The stripe is a function of the stack: the same frame gets the same
// stripe, and goroutines' stacks spread over the stripes.
func TestPickStripeFollowsTheStack(t *testing.T) {
	if a, b := stripeHere(), stripeHere(); a != b {
		t.Fatalf("one frame, stripes %d then %d", a, b)
	}
	const goroutines = 64
	var stripes [goroutines]uint32
	var chosen, done sync.WaitGroup
	release := make(chan struct{})
	for g := 0; g < goroutines; g++ {
		chosen.Add(1)
		done.Add(1)
		go func(g int) {
			defer done.Done()
			stripes[g] = posStripeOf()
			chosen.Done()
			<-release // all alive at once: no stack is reused
		}(g)
	}
	chosen.Wait()
	close(release)
	done.Wait()
	seen := map[uint32]bool{}
	for _, k := range stripes {
		if k >= posStripes {
			t.Fatalf("stripe %d out of range", k)
		}
		seen[k] = true
	}
	// 64 goroutines over 16 stripes: by chance fewer than 8 in use is below 1e-9.
	if len(seen) < posStripes/2 {
		t.Fatalf("64 live goroutines on %d stripes of %d: %v", len(seen), posStripes, stripes)
	}
}

// deepen uses about depth KiB of stack, so that the runtime grows (moves)
// the calling goroutine's stack.
//
//go:noinline
func deepen(depth int) byte {
	var pad [1024]byte
	pad[depth%len(pad)] = byte(depth)
	if depth == 0 {
		return pad[0]
	}
	return deepen(depth-1) + pad[depth%len(pad)]
}

// A goroutine alone walks one process-wide position, whatever its stack
// does: between picks of [a b] its stack grows from a few KiB to 256 KiB
// (each growth copies it elsewhere). Stripes chosen by stack address
// would land on other stripes' start points half the time at each move.
func TestPickLoneGoroutineWalksExactlyThoughItsStackMoves(t *testing.T) {
	s := pickService(t, twoSet())
	depths := []int{0, 1, 3, 7, 15, 31, 63, 127, 255}
	done := make(chan []uint64)
	go func() { // a fresh goroutine: a small stack to start from
		var keys []uint64
		for _, depth := range depths {
			for i := 0; i < 4; i++ {
				e, err := s.Pick()
				if err != nil {
					t.Error(err)
					break
				}
				keys = append(keys, e.Key())
			}
			deepen(depth)
		}
		done <- keys
	}()
	keys := <-done
	if len(keys) != 4*len(depths) {
		t.Fatalf("%d picks, want %d", len(keys), 4*len(depths))
	}
	for i := 1; i < len(keys); i++ {
		if keys[i] == keys[i-1] {
			t.Fatalf("pick %d repeats pick %d's backend: %v", i, i-1, keys)
		}
	}
	if s.contended.Load() {
		t.Fatal("one goroutine counted as contention")
	}
}
