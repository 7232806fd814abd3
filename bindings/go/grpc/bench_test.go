// SPDX-License-Identifier: LGPL-2.1-or-later
// bench_test.go: the dnsdisc picker's cost per RPC (Pick and Done) against grpc-go's round_robin, over the same 3 READY SubConns.

package grpc

import (
	"fmt"
	"syscall"
	"testing"

	"google.golang.org/grpc/attributes"
	"google.golang.org/grpc/balancer"
	_ "google.golang.org/grpc/balancer/roundrobin"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"
)

type benchSC struct{ addr string }

func (*benchSC) UpdateAddresses([]resolver.Address) {}
func (*benchSC) Connect()                           {}

// benchCC is the balancer's ClientConn: it hands out SubConns and keeps the last picker.
type benchCC struct {
	balancer.ClientConn
	picker balancer.Picker
	subs   []balancer.SubConn
}

func (cc *benchCC) NewSubConn(a []resolver.Address, _ balancer.NewSubConnOptions) (balancer.SubConn, error) {
	sc := &benchSC{addr: a[0].Addr}
	cc.subs = append(cc.subs, sc)
	return sc, nil
}
func (cc *benchCC) RemoveSubConn(balancer.SubConn)        {}
func (cc *benchCC) UpdateState(s balancer.State)          { cc.picker = s.Picker }
func (cc *benchCC) ResolveNow(resolver.ResolveNowOptions) {}
func (cc *benchCC) Target() string                        { return "bench" }

// readyPicker builds the named balancer over 3 addresses (weights 1, 2, 3) and makes every SubConn READY.
func readyPicker(b *testing.B, name string) balancer.Picker {
	cc := &benchCC{}
	bal := balancer.Get(name).Build(cc, balancer.BuildOptions{})
	var addrs []resolver.Address
	for i := 1; i <= 3; i++ {
		be := &Backend{Weight: uint16(i), Key: uint64(i)}
		addrs = append(addrs, resolver.Address{Addr: fmt.Sprintf("127.0.0.%d:80", i), Attributes: attributes.New(attrKey{}, be)})
	}
	if err := bal.UpdateClientConnState(balancer.ClientConnState{ResolverState: resolver.State{Addresses: addrs}}); err != nil {
		b.Fatal(err)
	}
	for _, sc := range cc.subs {
		bal.UpdateSubConnState(sc, balancer.SubConnState{ConnectivityState: connectivity.Ready})
	}
	return cc.picker
}

func benchPicker(b *testing.B, name string) {
	p := readyPicker(b, name)
	if p == nil {
		b.Fatal("no picker")
	}
	b.ReportAllocs()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu0 := ru.Utime.Nano() + ru.Stime.Nano()
	b.ResetTimer()
	defer func() {
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		b.ReportMetric(float64(ru.Utime.Nano()+ru.Stime.Nano()-cpu0)/float64(b.N), "cpu-ns/op")
	}()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, err := p.Pick(balancer.PickInfo{FullMethodName: "/x.Y/Z"})
			if err != nil {
				b.Fatal(err)
			}
			if r.Done != nil {
				r.Done(balancer.DoneInfo{})
			}
		}
	})
}

func BenchmarkPickerDnsdisc(b *testing.B)    { benchPicker(b, Name) }
func BenchmarkPickerRoundRobin(b *testing.B) { benchPicker(b, "round_robin") }
