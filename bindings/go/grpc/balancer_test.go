// SPDX-License-Identifier: LGPL-2.1-or-later
// balancer_test.go: the picker's weighted schedule and its quarantine through the Done callback.

package grpc

import (
	"errors"
	"testing"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"
)

func TestScheduleFollowsWeights(t *testing.T) {
	for _, tc := range []struct {
		ws   []uint32
		want []int
	}{
		{[]uint32{1, 3}, []int{1, 3}},
		{[]uint32{10, 10, 10}, []int{1, 1, 1}},
		{[]uint32{60, 30, 10}, []int{6, 3, 1}},
		{[]uint32{0, 5}, []int{0, 1}},
		{[]uint32{65535, 1}, []int{4095, 1}},
	} {
		s := buildSchedule(tc.ws)
		got := make([]int, len(tc.ws))
		for _, i := range s {
			got[i]++
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("weights %v: schedule counts %v, want %v", tc.ws, got, tc.want)
				break
			}
		}
	}
	// Smooth: 1:3 never puts the weight-1 backend twice in a row.
	s := buildSchedule([]uint32{1, 3})
	if len(s) != 4 || s[0] == s[len(s)-1] && s[0] == 0 {
		t.Errorf("1:3 schedule %v", s)
	}
}

// An SRV record's weight is split over its addresses, as in the daemon's
// schedule: a dual-stack target gets the share of a single-stack one.
func TestSplitWeightsGiveARecordOneShare(t *testing.T) {
	for _, tc := range []struct {
		ws, splits []uint32
		want       []int
	}{
		{[]uint32{10, 10, 10}, []uint32{2, 2, 1}, []int{1, 1, 2}},
		{[]uint32{10, 10, 10, 10, 10}, []uint32{2, 2, 3, 3, 3}, []int{3, 3, 2, 2, 2}},
		{[]uint32{1, 3}, []uint32{1, 1}, []int{1, 3}},
		{[]uint32{65535, 65535, 1}, []uint32{8, 8, 0}, []int{2048, 2048, 1}},
	} {
		ws := append([]uint32(nil), tc.ws...)
		splitWeights(ws, tc.splits)
		got := make([]int, len(ws))
		for _, i := range buildSchedule(ws) {
			got[i]++
		}
		for i := range got {
			if d := got[i] - tc.want[i]; d < -1 || d > 1 {
				t.Errorf("weights %v split %v: schedule counts %v, want %v", tc.ws, tc.splits, got, tc.want)
				break
			}
		}
	}
}

type fakeSC struct {
	balancer.SubConn
	name string
}

func TestPickerWeightsAndQuarantine(t *testing.T) {
	w := &wrapper{weights: map[string]backendWeight{
		"a:1": {weight: 1, key: 11},
		"b:1": {weight: 3, key: 13},
	}}
	a, b := &fakeSC{name: "a"}, &fakeSC{name: "b"}
	p := (&pickerBuilder{w: w}).Build(base.PickerBuildInfo{ReadySCs: map[balancer.SubConn]base.SubConnInfo{
		a: {Address: resolver.Address{Addr: "a:1"}},
		b: {Address: resolver.Address{Addr: "b:1"}},
	}})
	count := func(n int) map[string]int {
		m := map[string]int{}
		for i := 0; i < n; i++ {
			r, err := p.Pick(balancer.PickInfo{})
			if err != nil {
				t.Fatal(err)
			}
			m[r.SubConn.(*fakeSC).name]++
		}
		return m
	}
	if m := count(4000); m["a"] != 1000 || m["b"] != 3000 {
		t.Fatalf("1:3 over 4000 picks: %v", m)
	}
	// An RPC that failed with Unavailable on b: b is skipped.
	r, _ := p.Pick(balancer.PickInfo{})
	for r.SubConn != b {
		r, _ = p.Pick(balancer.PickInfo{})
	}
	r.Done(balancer.DoneInfo{Err: status.Error(codes.Unavailable, "connection reset")})
	if m := count(100); m["b"] != 0 {
		t.Fatalf("b quarantined after an Unavailable RPC: %v", m)
	}
	// An application error says nothing about the backend.
	r, _ = p.Pick(balancer.PickInfo{})
	r.Done(balancer.DoneInfo{Err: status.Error(codes.NotFound, "no such key")})
	r.Done(balancer.DoneInfo{Err: errors.New("plain")})
	// a fails too: everything quarantined, picks go on.
	for r.SubConn != a {
		r, _ = p.Pick(balancer.PickInfo{})
	}
	r.Done(balancer.DoneInfo{Err: status.Error(codes.Unavailable, "refused")})
	if m := count(100); m["a"]+m["b"] != 100 {
		t.Fatalf("all quarantined: %v", m)
	}
	// A success ends a's quarantine.
	r.Done(balancer.DoneInfo{})
	if m := count(100); m["a"] != 100 {
		t.Fatalf("a's success: %v", m)
	}
}
