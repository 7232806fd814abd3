// SPDX-License-Identifier: LGPL-2.1-or-later
// churn_test.go: a writer republishing, removing and replacing files under concurrent readers: no read returns a set the writer did not publish.

package dnsdisc

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const churnSets = 12

func churnSize(k int) int { return 1 + (k*7)%6 }

// churnSet k: backends 10.k.0.1 .. 10.k.0.n(k), all on port 1000+k, targets
// b<i>.set<k>.example, query set<k>.NAME: every field names the set, so a
// read mixing two sets is seen.
func churnSet(name string, k int) twSet {
	set := twSet{state: 1, query: fmt.Sprintf("set%d.%s", k, name)}
	for i := 0; i < churnSize(k); i++ {
		set.backends = append(set.backends, twBackend{
			addr:   netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(k), 0, byte(i + 1)}), uint16(1000+k)),
			target: fmt.Sprintf("b%d.set%d.example", i, k), weight: uint16(1 + (i+k)%3), health: 1, scheduled: true,
		})
		for j := 0; j < 1+(i+k)%3; j++ {
			set.schedule = append(set.schedule, uint16(i))
		}
	}
	return set
}

func checkChurnSnapshot(info Info, bs []Backend) error {
	var k, n int
	var svc string
	if _, err := fmt.Sscanf(info.Query, "set%d.", &k); err != nil {
		return fmt.Errorf("query %q", info.Query)
	}
	svc = info.Query[strings.IndexByte(info.Query, '.')+1:]
	if svc != info.Name {
		return fmt.Errorf("query %q of service %q", info.Query, info.Name)
	}
	n = churnSize(k)
	if len(bs) != n || info.NBackends != n || info.NScheduled != n {
		return fmt.Errorf("set %d with %d backends (%d scheduled), want %d", k, len(bs), info.NScheduled, n)
	}
	for i, b := range bs {
		want := churnSet(info.Name, k).backends[i]
		if b.Addr != want.addr || b.Target != want.target || b.Weight != want.weight {
			return fmt.Errorf("set %d backend %d: %v %s w%d, want %v %s w%d", k, i, b.Addr, b.Target, b.Weight, want.addr, want.target, want.weight)
		}
	}
	return nil
}

func checkChurnPick(e Endpoint) error {
	a := e.Addr.Addr().As4()
	k := int(e.Addr.Port()) - 1000
	if k < 0 || k >= churnSets || a[0] != 10 || int(a[1]) != k || a[2] != 0 || int(a[3]) < 1 || int(a[3]) > churnSize(k) {
		return fmt.Errorf("picked %v: in no published set", e)
	}
	return nil
}

func TestChurnNoTornRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache")
	w := newTestWriter(t, path, 8, 4<<20)
	names := []string{"s0", "s1", "s2", "s3"}
	for i, n := range names {
		w.publish(n, churnSet(n, i))
	}
	c := openTest(t, path)
	var stop atomic.Bool
	var reads, picks, gone, busy atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			handles := map[string]*Service{}
			for i := 0; !stop.Load(); i++ {
				name := names[i%len(names)]
				s := handles[name]
				if s == nil {
					var err error
					if s, err = c.Service(name); err != nil {
						if errors.Is(err, ErrNoService) && name == "s3" || errors.Is(err, ErrBusy) {
							gone.Add(1)
							continue
						}
						errc <- err
						return
					}
					handles[name] = s
				}
				info, bs, err := s.Snapshot()
				if err == nil {
					err = checkChurnSnapshot(info, bs)
				} else if errors.Is(err, ErrNoService) && name == "s3" {
					gone.Add(1)
					err = nil
				} else if errors.Is(err, ErrBusy) {
					// A writer that never pauses can outrun a read (libdnsdisc: -EAGAIN).
					busy.Add(1)
					err = nil
				}
				if err != nil {
					errc <- err
					return
				}
				reads.Add(1)
				for j := 0; j < 16; j++ {
					e, err := s.Pick()
					if err == nil {
						err = checkChurnPick(e)
					} else if errors.Is(err, ErrNoService) && name == "s3" || errors.Is(err, ErrBusy) {
						err = nil
					}
					if err != nil {
						errc <- err
						return
					}
					picks.Add(1)
				}
			}
		}(r)
	}
	// The writer: sets of every size, in place and moved; s3 removed and re-added;
	// the file replaced by a bigger one twice.
	deadline := time.Now().Add(2 * time.Second)
	publishes := 0
	replaced := 0
	var writers []*testWriter
	for k := 0; time.Now().Before(deadline) && len(errc) == 0; k++ {
		name := names[k%3]
		w.publish(name, churnSet(name, k%churnSets))
		publishes++
		if k%50 == 0 {
			w.remove("s3")
		} else if k%50 == 25 {
			w.publish("s3", churnSet("s3", k%churnSets))
		}
		if k == 200 || k == 400 {
			writers = append(writers, w)
			w = w.replace(w.nSlots*2, w.heapSize*2)
			replaced++
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	t.Logf("%d publishes, %d file replacements; readers: %d snapshots, %d picks, %d while s3 was gone, %d busy",
		publishes, replaced, reads.Load(), picks.Load(), gone.Load(), busy.Load())
	if reads.Load()-busy.Load() < 1000 || publishes < 1000 || replaced != 2 {
		t.Fatalf("too little happened to tell: %d snapshots over %d publishes", reads.Load(), publishes)
	}
	for _, x := range append(writers, w) {
		x.close()
	}
}
