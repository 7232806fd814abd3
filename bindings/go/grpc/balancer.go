// SPDX-License-Identifier: LGPL-2.1-or-later
// balancer.go: the gRPC balancer "dnsdisc": SRV-weighted picks over READY connections, with the per-process quarantine.

package grpc

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dnsdisc/dnsdisc/bindings/go/internal/quarantine"
)

// Name is the balancer's name in a service config:
// {"loadBalancingConfig":[{"dnsdisc":{}}]}.
const Name = "dnsdisc"

// Cycle length bound of a picker's schedule, as the daemon's (DD_SCHED_MAX).
const schedMax = 4096

func init() {
	balancer.Register(balancerBuilder{})
}

type balancerBuilder struct{}

func (balancerBuilder) Name() string { return Name }

// Build wraps grpc-go's base balancer (one SubConn per address, a new picker
// whenever the READY set changes) to learn each address's weight from the
// resolver's state itself: some grpc-go releases strip attributes from the
// addresses they hand to pickers (grpc-go#4276).
func (balancerBuilder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	w := &wrapper{weights: map[string]backendWeight{}}
	w.Balancer = base.NewBalancerBuilder(Name, &pickerBuilder{w: w}, base.Config{HealthCheck: false}).Build(cc, opts)
	return w
}

type backendWeight struct {
	weight uint16
	split  uint32 // addresses sharing the SRV record's weight (1: none)
	key    uint64
}

type wrapper struct {
	balancer.Balancer
	mu      sync.Mutex
	weights map[string]backendWeight // by Address.Addr, from the last resolver state
	q       quarantine.Table         // per ClientConn: survives pickers
}

func (w *wrapper) UpdateClientConnState(s balancer.ClientConnState) error {
	m := make(map[string]backendWeight, len(s.ResolverState.Addresses))
	for _, a := range s.ResolverState.Addresses {
		bw := backendWeight{weight: 1, split: 1, key: keyOf(a.Addr)}
		if b, ok := BackendOf(a); ok {
			bw.weight = b.Weight
			if b.WeightSplit > 1 && b.WeightSplit <= maxSplit {
				bw.split = uint32(b.WeightSplit)
			}
			if b.Key != 0 {
				bw.key = b.Key
			}
		}
		m[a.Addr] = bw
	}
	w.mu.Lock()
	w.weights = m
	w.mu.Unlock()
	return w.Balancer.UpdateClientConnState(s)
}

// keyOf: FNV-1a of the address text, for addresses without dnsdisc attributes.
func keyOf(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 0x100000001b3
	}
	return h | 1
}

type pickerBuilder struct{ w *wrapper }

type pickEntry struct {
	sc   balancer.SubConn
	key  uint64
	done func(balancer.DoneInfo)
}

type picker struct {
	entries  []pickEntry
	schedule []uint16 // indices into entries, smooth weighted round robin
	next     atomic.Uint32
	q        *quarantine.Table
}

func (pb *pickerBuilder) Build(info base.PickerBuildInfo) balancer.Picker {
	if len(info.ReadySCs) == 0 {
		return base.NewErrPicker(balancer.ErrNoSubConnAvailable)
	}
	pb.w.mu.Lock()
	weights := pb.w.weights
	pb.w.mu.Unlock()
	p := &picker{q: &pb.w.q}
	var ws, splits []uint32
	positive := false
	for sc, sci := range info.ReadySCs {
		bw, ok := weights[sci.Address.Addr]
		if !ok {
			bw = backendWeight{weight: 1, split: 1, key: keyOf(sci.Address.Addr)}
		}
		key := bw.key
		q := p.q
		p.entries = append(p.entries, pickEntry{sc: sc, key: key, done: func(di balancer.DoneInfo) {
			if di.Err == nil {
				if q.Known() {
					q.Success(key)
				}
				return
			}
			// The backend failed (not the application): skip it in this process, as ReportFailure does.
			if status.Code(di.Err) == codes.Unavailable {
				q.Failure(key)
			}
		}})
		ws = append(ws, uint32(bw.weight))
		splits = append(splits, bw.split)
		positive = positive || bw.weight > 0
	}
	// Weight 0 only when no positive weight is offered, then equal shares (RFC 2782).
	for i := range ws {
		if !positive {
			ws[i] = 1
		}
	}
	splitWeights(ws, splits)
	p.schedule = buildSchedule(ws)
	p.next.Store(randomStart())
	return p
}

// maxSplit bounds the addresses of a record whose weight is split here (a
// larger count keeps the whole weight), so the lcm below is at most 840.
const maxSplit = 8

// splitWeights gives each address its SRV record's weight divided by the
// record's address count, as the daemon's schedule does: every weight times
// the lcm of the counts, divided by its own count, so shares stay exact.
func splitWeights(ws, splits []uint32) {
	l := uint32(1)
	for i, k := range splits {
		if k == 0 {
			splits[i], k = 1, 1
		}
		l = l / gcd(l, k) * k
	}
	if l == 1 {
		return
	}
	for i := range ws {
		ws[i] *= l / splits[i] // < 2^16 * 840 (the lcm of 1..maxSplit)
	}
}

func gcd(a, b uint32) uint32 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// buildSchedule interleaves the weights by smooth weighted round robin (as
// the daemon's schedule does): weights divided by their gcd, scaled down to
// at most schedMax slots with at least one per positive weight.
func buildSchedule(ws []uint32) []uint16 {
	var g uint32
	var sum uint64 // split weights reach 2^26 each
	for _, w := range ws {
		g = gcd(g, w)
	}
	w := make([]int64, len(ws))
	for i, x := range ws {
		if g > 0 {
			x /= g
		}
		w[i] = int64(x)
		sum += uint64(x)
	}
	if sum > schedMax {
		var s int64
		for i := range w {
			if w[i] > 0 {
				w[i] = w[i] * schedMax / int64(sum)
				if w[i] == 0 {
					w[i] = 1
				}
			}
			s += w[i]
		}
		sum = uint64(s)
	}
	cur := make([]int64, len(w))
	sched := make([]uint16, 0, sum)
	for n := uint64(0); n < sum; n++ {
		best := -1
		for i := range w {
			if w[i] == 0 {
				continue
			}
			cur[i] += w[i]
			if best < 0 || cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= int64(sum)
		sched = append(sched, uint16(best))
	}
	return sched
}

// Pick walks the schedule; a quarantined backend is skipped unless every
// ready backend is quarantined (never "no backend" while one is READY).
func (p *picker) Pick(balancer.PickInfo) (balancer.PickResult, error) {
	n := uint32(len(p.schedule))
	pos := (p.next.Add(1) - 1) % n
	if p.q.Active() {
		np, skipped, _ := p.q.Skip(n, pos, func(i uint32) (uint64, bool) {
			return p.entries[p.schedule[i]].key, true
		})
		if skipped > 0 {
			p.next.Add(skipped)
		}
		pos = np
	}
	e := &p.entries[p.schedule[pos]]
	return balancer.PickResult{SubConn: e.sc, Done: e.done}, nil
}

// randomStart: pickers of processes started together must not all begin with the same backend.
func randomStart() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint32(b[:])
}
