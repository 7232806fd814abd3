// SPDX-License-Identifier: LGPL-2.1-or-later
// resolver_test.go: what the resolver offers the ClientConn for a snapshot: scheduled backends only, stable attributes, withdrawal.

package grpc

import (
	"net/netip"
	"strings"
	"testing"

	"google.golang.org/grpc/resolver"

	dnsdisc "github.com/dnsdisc/dnsdisc/bindings/go"
)

// errCC records ReportError; the rest of resolver.ClientConn is not used by push.
type errCC struct {
	resolver.ClientConn
	errs []error
}

func (cc *errCC) ReportError(err error) { cc.errs = append(cc.errs, err) }

func testResolver() (*dnsdiscResolver, *errCC, *[]resolver.State) {
	cc := &errCC{}
	var states []resolver.State
	r := &dnsdiscResolver{name: "api", cc: cc, attrs: map[uint64]attrEntry{},
		update: func(s resolver.State) { states = append(states, s) }}
	return r, cc, &states
}

func be(addr string, weight uint16, scheduled bool) dnsdisc.Backend {
	ap := netip.MustParseAddrPort(addr)
	return dnsdisc.Backend{Addr: ap, Target: "t.example", Priority: 10, Weight: weight, Health: dnsdisc.HealthUp,
		Scheduled: scheduled, Key: uint64(ap.Port())<<32 | uint64(ap.Addr().As4()[3])}
}

func TestResolverOffersTheScheduleWithStableAttributes(t *testing.T) {
	r, cc, states := testResolver()
	info := dnsdisc.Info{Name: "api", State: dnsdisc.StateOK}
	set := []dnsdisc.Backend{be("127.0.0.1:80", 1, true), be("127.0.0.2:80", 3, true), be("127.0.0.3:80", 5, false)}
	r.push(info, set)
	r.push(info, set)
	if len(*states) != 2 || len((*states)[0].Addresses) != 2 {
		t.Fatalf("states %+v: want the 2 scheduled backends, twice", *states)
	}
	a, b := (*states)[0].Addresses, (*states)[1].Addresses
	for i := range a {
		// grpc-go keys SubConns by the whole Address: the same backend must be the same value.
		if a[i] != b[i] {
			t.Errorf("address %d changed between two equal pushes: %+v, %+v", i, a[i], b[i])
		}
		if got, ok := BackendOf(a[i]); !ok || got.Weight != set[i].Weight || got.Target != "t.example" || got.Priority != 10 {
			t.Errorf("attributes of %s: %+v", a[i].Addr, got)
		}
	}
	set[1].Weight = 4
	r.push(info, set)
	c := (*states)[2].Addresses
	if c[0] != a[0] || c[1] == a[1] {
		t.Errorf("a weight change must renew that backend's address only: %+v then %+v", a, c)
	}
	if len(cc.errs) != 0 {
		t.Errorf("errors reported: %v", cc.errs)
	}
	// Nothing scheduled: the addresses are withdrawn and the reason reported.
	r.push(dnsdisc.Info{Name: "api", State: dnsdisc.StateNegative, LastError: 4}, nil)
	if last := (*states)[len(*states)-1]; len(last.Addresses) != 0 {
		t.Fatalf("addresses not withdrawn: %+v", last)
	}
	if len(cc.errs) != 1 || !strings.Contains(cc.errs[0].Error(), `service "api" has no backend to offer (state negative`) {
		t.Fatalf("reported %v", cc.errs)
	}
}
