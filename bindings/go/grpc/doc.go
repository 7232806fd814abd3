// SPDX-License-Identifier: LGPL-2.1-or-later

// Package grpc plugs dnsdisc into grpc-go: importing it registers the
// resolver scheme "dnsdisc" and the balancer "dnsdisc".
//
//	import dnsdiscgrpc "github.com/dnsdisc/dnsdisc/bindings/go/grpc"
//
//	conn, err := grpc.Dial("dnsdisc:///api",
//		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"dnsdisc":{}}]}`), ...)
//
// The resolver reads the host's dnsdiscd cache (package dnsdisc) and pushes
// the service's scheduled backends (the healthy ones of the best SRV
// priority, or all of them in panic mode) to the ClientConn each time the
// service's generation changes: it sleeps on the cache's futex word, so an
// update reaches the ClientConn within microseconds, with no polling. Each
// address carries the backend's target, priority, weight and health in its
// attributes (BackendOf). A missing cache, a missing service or a corrupt
// file is reported to the ClientConn (RPCs fail fast with the reason) while
// the resolver keeps watching and recovers by itself; a daemon restart, a
// file replacement or a DNS outage (the daemon keeps serving the last good
// set) changes nothing for the ClientConn.
//
// The balancer picks among the offered backends whose connection is READY,
// by SRV weight (smooth weighted round robin over a schedule), and skips, in
// this process, a backend whose RPC failed with codes.Unavailable, with the
// quarantine of dnsdisc.Service.ReportFailure (1 s doubling to 30 s; never
// all of them). A plain round_robin config works with the resolver too,
// unweighted.
//
// Tested with grpc-go 1.33 (Debian 12). It reads Target.Endpoint through
// reflection (a field up to 1.5x, a method after) and uses attributes.New
// with one pair, so the same code builds against later releases.
package grpc
