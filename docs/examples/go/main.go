// SPDX-License-Identifier: LGPL-2.1-or-later

// Command dnsdisc-example shows the two ways a Go program uses dnsdisc: the
// reader (package dnsdisc) picking endpoints from the host's cache, and a
// gRPC client whose backends come from it (package grpc: resolver and
// balancer "dnsdisc").
//
//	go run . -service api             # five picks and the service's state
//	go run . -service api -grpc       # plus a grpc.health.v1 Check through dnsdisc:///api
//
// The cache is $DNSDISC_CACHE, else /run/dnsdisc/cache (-cache overrides).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	dnsdisc "github.com/dnsdisc/dnsdisc/bindings/go"
	dnsdiscgrpc "github.com/dnsdisc/dnsdisc/bindings/go/grpc"
)

func main() {
	cache := flag.String("cache", "", "cache file (default $DNSDISC_CACHE, else /run/dnsdisc/cache)")
	service := flag.String("service", "api", "service name, as in dnsdisc.conf")
	useGRPC := flag.Bool("grpc", false, "also call grpc.health.v1.Health/Check on the service through dnsdisc:///SERVICE")
	flag.Parse()
	if err := run(*cache, *service, *useGRPC); err != nil {
		fmt.Fprintln(os.Stderr, "dnsdisc-example:", err)
		os.Exit(1)
	}
}

func run(path, name string, useGRPC bool) error {
	c, err := dnsdisc.Open(path)
	if errors.Is(err, dnsdisc.ErrNoCache) {
		return fmt.Errorf("%w (start dnsdiscd, or set DNSDISC_CACHE)", err)
	} else if err != nil {
		return err
	}
	defer c.Close()
	if c.Stale() {
		fmt.Println("warning: dnsdiscd is not refreshing the cache; its last data follows")
	}
	s, err := c.Service(name)
	if err != nil {
		return err
	}
	info, backends, err := s.Snapshot()
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s, generation %d, %d of %d backends healthy\n", info.Name, info.State, info.Generation,
		info.NHealthy, info.NBackends)
	for _, b := range backends {
		fmt.Printf("  %-24s %-28s priority %d weight %d %s scheduled=%v ttl %v\n", b.Addr, b.Target,
			b.Priority, b.Weight, b.Health, b.Scheduled, b.TTLLeft().Round(time.Second))
	}
	for i := 0; i < 5; i++ {
		ep, err := s.Pick()
		if err != nil {
			return err
		}
		fmt.Println("pick:", ep)
	}
	if !useGRPC {
		return nil
	}

	// The whole change for a gRPC client: the target and the balancer.
	conn, err := grpc.Dial("dnsdisc:///"+name,
		grpc.WithResolvers(dnsdiscgrpc.NewBuilder(path)), // only for -cache; the default needs nothing
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"dnsdisc":{}}]}`),
		grpc.WithInsecure())
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	fmt.Println("grpc health:", resp.GetStatus())
	return nil
}
