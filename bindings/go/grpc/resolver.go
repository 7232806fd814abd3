// SPDX-License-Identifier: LGPL-2.1-or-later
// resolver.go: the gRPC resolver of scheme "dnsdisc": pushes a service's scheduled backends to the ClientConn on every generation change.

package grpc

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/attributes"
	"google.golang.org/grpc/resolver"

	dnsdisc "github.com/dnsdisc/dnsdisc/bindings/go"
)

// Scheme is the resolver scheme: "dnsdisc:///SERVICE".
const Scheme = "dnsdisc"

// How often a resolver looks for a cache file that is not there.
const openRetry = 500 * time.Millisecond

func init() {
	resolver.Register(NewBuilder(""))
}

// Backend is what the resolver knows of an offered backend, carried in its
// resolver.Address's Attributes (see BackendOf).
type Backend struct {
	Target   string
	Priority uint16
	Weight   uint16
	Health   dnsdisc.Health
	Key      uint64
	// WeightSplit: the offered addresses of the backend's SRV record that
	// share Weight (dnsdisc.Backend.WeightSplit); each gets Weight / WeightSplit.
	WeightSplit int
}

type attrKey struct{}

// BackendOf returns the dnsdisc data of an address the resolver produced.
func BackendOf(addr resolver.Address) (Backend, bool) {
	if addr.Attributes == nil {
		return Backend{}, false
	}
	b, ok := addr.Attributes.Value(attrKey{}).(*Backend)
	if !ok {
		return Backend{}, false
	}
	return *b, true
}

type builder struct{ path string }

// NewBuilder returns a resolver builder of scheme "dnsdisc" that reads the
// cache at path ("": $DNSDISC_CACHE, else /run/dnsdisc/cache). The builder
// registered by this package's init uses ""; pass another one to
// grpc.WithResolvers for another file.
func NewBuilder(path string) resolver.Builder { return builder{path: path} }

func (builder) Scheme() string { return Scheme }

// endpoint reads Target.Endpoint, a string field up to grpc-go 1.5x and a
// method after (grpc-go#5852): the one difference of Target this package meets.
func endpoint(t resolver.Target) string {
	v := reflect.ValueOf(t)
	if f := v.FieldByName("Endpoint"); f.IsValid() && f.Kind() == reflect.String {
		return f.String()
	}
	if m := v.MethodByName("Endpoint"); m.IsValid() && m.Type().NumIn() == 0 && m.Type().NumOut() == 1 {
		if out := m.Call(nil)[0]; out.Kind() == reflect.String {
			return out.String()
		}
	}
	return ""
}

func (b builder) Build(target resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	name := strings.TrimPrefix(endpoint(target), "/")
	if name == "" {
		return nil, errors.New("dnsdisc: the target names no service (want dnsdisc:///SERVICE)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &dnsdiscResolver{name: name, path: b.path, cc: cc, ctx: ctx, cancel: cancel, attrs: map[uint64]attrEntry{},
		// A statement call: UpdateState returns nothing in grpc-go 1.33 and an error later.
		update: func(s resolver.State) { cc.UpdateState(s) }}
	r.wg.Add(1)
	go r.run()
	return r, nil
}

type attrEntry struct {
	b     Backend
	attrs *attributes.Attributes
}

type dnsdiscResolver struct {
	name, path string
	cc         resolver.ClientConn
	update     func(resolver.State)
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	cache      *dnsdisc.Cache
	// One Attributes value per backend while its data is unchanged: grpc-go
	// keys SubConns by the whole Address, so a fresh value would reconnect it.
	attrs   map[uint64]attrEntry
	lastErr string
	offered bool // the ClientConn holds addresses from us
}

// ResolveNow: nothing to do; the resolver follows every change as it happens.
func (r *dnsdiscResolver) ResolveNow(resolver.ResolveNowOptions) {}

func (r *dnsdiscResolver) Close() {
	r.cancel()
	r.wg.Wait()
	r.cache.Close()
}

func (r *dnsdiscResolver) report(err error) {
	// Report each distinct error once: the ClientConn keeps the last one.
	if msg := err.Error(); msg != r.lastErr {
		r.lastErr = msg
		r.cc.ReportError(err)
	}
}

// withdraw takes the offered addresses back, then reports why: the
// ClientConn drops its connections and fails RPCs with err. Only for what the
// daemon decided (the service removed, or nothing to schedule): a missing or
// unreadable cache keeps the last addresses, as the daemon keeps the last
// good set through a DNS outage.
func (r *dnsdiscResolver) withdraw(err error) {
	if r.offered {
		r.offered = false
		r.attrs = map[uint64]attrEntry{}
		r.update(resolver.State{})
		r.lastErr = ""
	}
	r.report(err)
}

func (r *dnsdiscResolver) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.ctx.Done():
	case <-t.C:
	}
}

func (r *dnsdiscResolver) run() {
	defer r.wg.Done()
	var s *dnsdisc.Service
	for r.ctx.Err() == nil {
		if r.cache == nil {
			c, err := dnsdisc.Open(r.path)
			if err != nil {
				r.report(err)
				r.sleep(openRetry)
				continue
			}
			r.cache = c
		}
		if s == nil {
			cc := r.cache.ChangeCounter()
			var err error
			if s, err = r.cache.Service(r.name); err != nil {
				s = nil
				if errors.Is(err, dnsdisc.ErrNoService) {
					r.withdraw(err)
				} else {
					r.report(err)
				}
				_ = r.cache.WaitChange(r.ctx, cc)
				continue
			}
		}
		info, backends, err := s.Snapshot()
		if err != nil {
			if errors.Is(err, dnsdisc.ErrNoService) {
				r.withdraw(err)
				// Wait returns once the service is there again.
				if err := s.Wait(r.ctx, s.Generation()); err != nil && r.ctx.Err() == nil {
					r.sleep(openRetry)
				}
			} else {
				r.report(err)
				r.sleep(openRetry)
			}
			continue
		}
		r.push(info, backends)
		if err := s.Wait(r.ctx, info.Generation); err != nil && r.ctx.Err() == nil {
			// Whatever it is, the next snapshot says it; never loop faster than this.
			r.sleep(openRetry)
		}
	}
}

// push offers what the daemon schedules: the healthy backends of the best
// priority tier (all of them in panic mode).
func (r *dnsdiscResolver) push(info dnsdisc.Info, backends []dnsdisc.Backend) {
	addrs := make([]resolver.Address, 0, len(backends))
	seen := make(map[uint64]attrEntry, len(backends))
	for i := range backends {
		be := &backends[i]
		if !be.Scheduled {
			continue
		}
		nb := Backend{Target: be.Target, Priority: be.Priority, Weight: be.Weight, Health: be.Health, Key: be.Key,
			WeightSplit: be.WeightSplit}
		e, ok := r.attrs[be.Key]
		if !ok || e.b != nb {
			e = attrEntry{b: nb, attrs: attributes.New(attrKey{}, &nb)}
		}
		seen[be.Key] = e
		addrs = append(addrs, resolver.Address{Addr: be.Addr.String(), Attributes: e.attrs})
	}
	r.attrs = seen
	if len(addrs) == 0 {
		r.withdraw(fmt.Errorf("dnsdisc: service %q has no backend to offer (state %s, %d of %d healthy, last DNS error %s)",
			info.Name, info.State, info.NHealthy, info.NBackends, info.LastError))
		return
	}
	r.lastErr = ""
	r.offered = true
	r.update(resolver.State{Addresses: addrs})
}
