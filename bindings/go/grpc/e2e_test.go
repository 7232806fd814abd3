// SPDX-License-Identifier: LGPL-2.1-or-later
// e2e_test.go: gRPC end to end: real dnsdiscd, BIND (tests/test-go.sh starts it) with nsupdate, gRPC servers on 127.77.x.y.

package grpc

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang/protobuf/ptypes/empty"
	"github.com/golang/protobuf/ptypes/wrappers"
	"google.golang.org/grpc"

	dnsdisc "github.com/dnsdisc/dnsdisc/bindings/go"
)

// The backends of tests/test-go.sh's zone: name -> address (all on $DNSDISC_E2E_PORT).
var e2eBackends = map[string]string{
	"s1": "127.77.1.1", "s2": "127.77.1.2", "s3": "127.77.1.3",
	"w1": "127.77.2.1", "w2": "127.77.2.2",
	"h1": "127.77.3.1", "h2": "127.77.3.2", "h3": "127.77.3.3",
	"f1": "127.77.4.1", "f2": "127.77.4.2",
	"r1": "127.77.5.1", "r2": "127.77.5.2",
	"g1": "127.77.6.1", "g2": "127.77.6.2",
}

// Health checks of the checked services, and the isolation bound of issue 12:
// fall x interval (probes start every interval x [0.95, 1.05)) + timeout + 0.5 s.
const (
	checkInterval = 500 * time.Millisecond
	checkTimeout  = 200 * time.Millisecond
	checkFall     = 2
	isolateBound  = checkFall*checkInterval*105/100 + checkTimeout + 500*time.Millisecond
)

// whoServer answers "/dnsdisc.test.Who/Who" with its name: one per backend address.
type whoServer struct {
	name string
	addr string
	srv  *grpc.Server
	mu   sync.Mutex
	lis  net.Listener
}

var whoDesc = grpc.ServiceDesc{
	ServiceName: "dnsdisc.test.Who",
	HandlerType: (*interface{})(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Who",
		Handler: func(srv interface{}, ctx context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
			if err := dec(new(empty.Empty)); err != nil {
				return nil, err
			}
			return &wrappers.StringValue{Value: srv.(*whoServer).name}, nil
		},
	}},
}

func startWho(t *testing.T, name, addr string) *whoServer {
	w := &whoServer{name: name, addr: addr, srv: grpc.NewServer()}
	w.srv.RegisterService(&whoDesc, w)
	if err := w.listen(); err != nil {
		t.Fatalf("gRPC server %s on %s: %v", name, addr, err)
	}
	return w
}

func (w *whoServer) listen() error {
	lis, err := net.Listen("tcp", w.addr)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.lis = lis
	w.mu.Unlock()
	go w.srv.Serve(lis)
	return nil
}

// closeListener refuses new connections (health checks fail) and keeps the ones open.
func (w *whoServer) closeListener() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lis != nil {
		w.lis.Close()
		w.lis = nil
	}
}

type e2eEnv struct {
	namedPort, port string
	dnsdiscd, dir   string
	cache, conf     string
	daemon          *exec.Cmd
	servers         map[string]*whoServer
}

func newEnv(t *testing.T) *e2eEnv {
	e := &e2eEnv{
		namedPort: os.Getenv("DNSDISC_E2E_NAMED_PORT"), port: os.Getenv("DNSDISC_E2E_PORT"),
		dnsdiscd: os.Getenv("DNSDISC_E2E_DNSDISCD"), dir: os.Getenv("DNSDISC_E2E_DIR"),
	}
	if e.namedPort == "" || e.port == "" || e.dnsdiscd == "" || e.dir == "" {
		t.Skip("DNSDISC_E2E_* not set: run through tests/test-go.sh, which starts BIND")
	}
	e.cache = filepath.Join(e.dir, "cache")
	e.conf = filepath.Join(e.dir, "dnsdisc.conf")
	checked := fmt.Sprintf("check = tcp\ncheck-interval = %dms\ncheck-timeout = %dms\nrise = 1\nfall = %d\n",
		checkInterval/time.Millisecond, checkTimeout/time.Millisecond, checkFall)
	conf := fmt.Sprintf(`[daemon]
cache = %s
servers = 127.0.0.1:%s
query-timeout = 500ms
query-tries = 2
min-ttl = 1s
max-ttl = 1h
stale-ttl = 10min
negative-confirm = 2
log-level = info

[service scale]
srv = _grpc._tcp.scale.example.com
[service weights]
srv = _grpc._tcp.weights.example.com
[service health]
srv = _grpc._tcp.health.example.com
%s
[service failover]
srv = _grpc._tcp.failover.example.com
panic = off
%s
[service restart]
srv = _grpc._tcp.restart.example.com
[service gone]
srv = _grpc._tcp.gone.example.com
`, e.cache, e.namedPort, checked, checked)
	if err := os.WriteFile(e.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	e.servers = map[string]*whoServer{}
	for name, ip := range e2eBackends {
		e.servers[name] = startWho(t, name, net.JoinHostPort(ip, e.port))
	}
	t.Cleanup(func() {
		for _, s := range e.servers {
			s.srv.Stop()
		}
	})
	return e
}

func (e *e2eEnv) startDaemon(t *testing.T) {
	log, err := os.OpenFile(filepath.Join(e.dir, "dnsdiscd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(e.dnsdiscd, "-c", e.conf)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.daemon = cmd
}

func (e *e2eEnv) stopDaemon(sig syscall.Signal) {
	if e.daemon != nil {
		e.daemon.Process.Signal(sig)
		e.daemon.Wait()
		e.daemon = nil
	}
}

// nsupdate sends one dynamic update to the test's BIND.
func (e *e2eEnv) nsupdate(t *testing.T, lines ...string) {
	in := fmt.Sprintf("server 127.0.0.1 %s\nzone example.com\n%s\nsend\n", e.namedPort, strings.Join(lines, "\n"))
	cmd := exec.Command("nsupdate")
	cmd.Stdin = strings.NewReader(in)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nsupdate: %v\n%s", err, out)
	}
}

// waitFor polls cond every 10 ms for at most d.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// scheduled returns the scheduled addresses of a service as the Go reader sees them.
func scheduled(c *dnsdisc.Cache, name string) (map[string]bool, dnsdisc.Info) {
	m := map[string]bool{}
	s, err := c.Service(name)
	if err != nil {
		return m, dnsdisc.Info{}
	}
	info, bs, err := s.Snapshot()
	if err != nil {
		return m, info
	}
	for _, b := range bs {
		if b.Scheduled {
			m[b.Addr.Addr().String()] = true
		}
	}
	return m, info
}

func dial(t *testing.T, target string, opts ...grpc.DialOption) *grpc.ClientConn {
	opts = append([]grpc.DialOption{grpc.WithInsecure()}, opts...)
	conn, err := grpc.Dial(target, opts...)
	if err != nil {
		t.Fatalf("dial %s: %v", target, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func dialDnsdisc(t *testing.T, cache, service string) *grpc.ClientConn {
	return dial(t, "dnsdisc:///"+service, grpc.WithResolvers(NewBuilder(cache)),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"dnsdisc":{}}]}`))
}

// who makes one RPC: the name of the backend that answered.
func who(conn *grpc.ClientConn, waitForReady bool) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out wrappers.StringValue
	err := conn.Invoke(ctx, "/dnsdisc.test.Who/Who", &empty.Empty{}, &out, grpc.WaitForReady(waitForReady))
	return out.Value, err
}

// rpcLoop makes RPCs one after the other until stop, recording when each backend last answered.
type rpcLoop struct {
	mu       sync.Mutex
	first    map[string]time.Time
	last     map[string]time.Time
	counts   map[string]int
	failures []string
	firstErr time.Time
	ok       atomic.Int64
	stop     atomic.Bool
	done     chan struct{}
}

func startLoop(conn *grpc.ClientConn, waitForReady bool, pause time.Duration) *rpcLoop {
	l := &rpcLoop{first: map[string]time.Time{}, last: map[string]time.Time{}, counts: map[string]int{}, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for !l.stop.Load() {
			name, err := who(conn, waitForReady)
			now := time.Now()
			l.mu.Lock()
			if err != nil {
				if l.firstErr.IsZero() {
					l.firstErr = now
				}
				if len(l.failures) < 5 {
					l.failures = append(l.failures, err.Error())
				}
			} else {
				if _, ok := l.first[name]; !ok {
					l.first[name] = now
				}
				l.last[name] = now
				l.counts[name]++
				l.ok.Add(1)
			}
			l.mu.Unlock()
			if pause > 0 {
				time.Sleep(pause)
			}
		}
	}()
	return l
}

func (l *rpcLoop) end() { l.stop.Store(true); <-l.done }

func (l *rpcLoop) firstOf(name string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.first[name]
	return t, ok
}

func (l *rpcLoop) lastOf(name string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last[name]
}

func (l *rpcLoop) nfailed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.firstErr.IsZero() {
		return 0
	}
	return len(l.failures)
}

func TestEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.startDaemon(t)
	defer func() { e.stopDaemon(syscall.SIGTERM) }()
	var c *dnsdisc.Cache
	if !waitFor(10*time.Second, func() bool {
		var err error
		if c == nil {
			c, err = dnsdisc.Open(e.cache)
		}
		if err != nil {
			return false
		}
		for svc, n := range map[string]int{"scale": 2, "weights": 2, "health": 3, "failover": 1, "restart": 2, "gone": 2} {
			if m, _ := scheduled(c, svc); len(m) != n {
				return false
			}
		}
		return true
	}) {
		t.Fatal("dnsdiscd did not publish every service within 10 s")
	}
	defer c.Close()

	// Side by side: the same scale-up seen through grpc-go's own DNS resolver
	// with round_robin, watched in the background for 60 s.
	plain := dial(t, fmt.Sprintf("dns://127.0.0.1:%s/plain.example.com:%s", e.namedPort, e.port),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`), grpc.WithDisableServiceConfig())
	plainLoop := startLoop(plain, true, 5*time.Millisecond)
	defer plainLoop.end()
	var scaleUpAt time.Time

	t.Run("ScaleUp", func(t *testing.T) {
		conn := dialDnsdisc(t, e.cache, "scale")
		l := startLoop(conn, true, 5*time.Millisecond)
		defer l.end()
		if !waitFor(10*time.Second, func() bool {
			_, a := l.firstOf("s1")
			_, b := l.firstOf("s2")
			_, c := plainLoop.firstOf("s1")
			_, d := plainLoop.firstOf("s2")
			return a && b && c && d
		}) {
			t.Fatal("s1 and s2 did not both get RPCs through both resolvers")
		}
		// When the daemon publishes s3, as the Go reader sees it (woken by the futex).
		published := make(chan time.Time, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		go func() {
			s, err := c.Service("scale")
			if err != nil {
				return
			}
			for ctx.Err() == nil {
				gen := s.Generation()
				if m, _ := scheduled(c, "scale"); m["127.77.1.3"] {
					published <- time.Now()
					return
				}
				s.Wait(ctx, gen)
			}
		}()
		scaleUpAt = time.Now()
		e.nsupdate(t, "update add _grpc._tcp.scale.example.com 2 IN SRV 10 10 "+e.port+" s3.example.com",
			"update add plain.example.com 2 IN A 127.77.1.3")
		bound := 2*time.Second + time.Second // the TTL + 1 s
		if !waitFor(bound+2*time.Second, func() bool { _, ok := l.firstOf("s3"); return ok }) {
			t.Fatalf("the new backend got no RPC within %v", bound+2*time.Second)
		}
		at, _ := l.firstOf("s3")
		d := at.Sub(scaleUpAt)
		fmt.Printf("FIGURE scale-up dnsdisc: first RPC to the new backend %d ms after nsupdate\n", d.Milliseconds())
		t.Logf("dnsdisc: the new backend's first RPC %v after the nsupdate (bound: TTL 2 s + 1 s)", d)
		if d > bound {
			t.Errorf("first RPC to the new backend after %v, over TTL + 1 s", d)
		}
		select {
		case p := <-published:
			// The resolver's push, a new connection's handshake and one RPC.
			lag := at.Sub(p)
			fmt.Printf("FIGURE scale-up dnsdisc: first RPC to the new backend %d ms after the daemon published it\n", lag.Milliseconds())
			if lag > 250*time.Millisecond {
				t.Errorf("first RPC to the new backend %v after the daemon published it (push within 50 ms, then connect)", lag)
			}
		case <-time.After(time.Second):
			t.Error("the Go reader did not see s3 published")
		}
		if n := l.nfailed(); n != 0 {
			t.Errorf("%d RPCs failed: %v", n, l.failures)
		}
	})

	t.Run("Weights", func(t *testing.T) {
		conn := dialDnsdisc(t, e.cache, "weights")
		// Wait until both connections are READY, so that every RPC after counts.
		if !waitFor(5*time.Second, func() bool {
			seen := map[string]bool{}
			for i := 0; i < 8; i++ {
				if n, err := who(conn, true); err == nil {
					seen[n] = true
				}
			}
			return seen["w1"] && seen["w2"]
		}) {
			t.Fatal("w1 and w2 not both reached")
		}
		count := map[string]int{}
		for i := 0; i < 4000; i++ {
			n, err := who(conn, true)
			if err != nil {
				t.Fatal(err)
			}
			count[n]++
		}
		share := float64(count["w1"]) * 100 / 4000
		t.Logf("weights 1:3 over 4000 RPCs: w1 %d (%.1f %%), w2 %d", count["w1"], share, count["w2"])
		if share < 23 || share > 27 {
			t.Errorf("w1 got %.1f %% of 4000 RPCs, want 25 ± 2", share)
		}
	})

	t.Run("HealthCheckFails", func(t *testing.T) {
		conn := dialDnsdisc(t, e.cache, "health")
		l := startLoop(conn, true, 2*time.Millisecond)
		defer l.end()
		if !waitFor(5*time.Second, func() bool {
			_, a := l.firstOf("h1")
			_, b := l.firstOf("h2")
			_, c := l.firstOf("h3")
			return a && b && c
		}) {
			t.Fatal("h1, h2, h3 not all reached")
		}
		t0 := time.Now()
		e.servers["h1"].closeListener()
		if !waitFor(5*time.Second, func() bool { m, _ := scheduled(c, "health"); return !m["127.77.3.1"] }) {
			t.Fatal("h1 not out of the schedule within 5 s")
		}
		out := time.Now()
		time.Sleep(300 * time.Millisecond)
		last := l.lastOf("h1").Sub(t0)
		t.Logf("h1's health check fails: its last RPC %v after its listener closed (bound %v)", last, isolateBound)
		if last > isolateBound {
			t.Errorf("h1 got RPCs until %v after its check began failing, bound %v", last, isolateBound)
		}
		if l.lastOf("h2").Before(out) || l.lastOf("h3").Before(out) {
			t.Error("h2 and h3 did not keep getting RPCs")
		}
		if n := l.nfailed(); n != 0 {
			t.Errorf("%d RPCs failed: %v", n, l.failures)
		}
	})

	t.Run("PriorityFailover", func(t *testing.T) {
		conn := dialDnsdisc(t, e.cache, "failover")
		l := startLoop(conn, true, 2*time.Millisecond)
		defer l.end()
		if !waitFor(5*time.Second, func() bool { _, ok := l.firstOf("f1"); return ok }) {
			t.Fatal("f1 not reached")
		}
		if _, ok := l.firstOf("f2"); ok {
			t.Fatal("f2 (priority 20) got RPCs while f1 (priority 10) was up")
		}
		t0 := time.Now()
		e.servers["f1"].srv.Stop() // the whole server: connections too
		if !waitFor(isolateBound+2*time.Second, func() bool { _, ok := l.firstOf("f2"); return ok }) {
			t.Fatal("f2 got no RPC after f1 went down")
		}
		at, _ := l.firstOf("f2")
		t.Logf("priority failover: f2's first RPC %v after f1 stopped", at.Sub(t0))
		if d := at.Sub(t0); d > isolateBound {
			t.Errorf("failover after %v, bound %v", d, isolateBound)
		}
		// The loop has one RPC in flight at a time: the one on f1's connection when
		// the server stopped may fail; every later one waits for the failover.
		if n := l.nfailed(); n > 1 {
			t.Errorf("%d RPCs failed (wait-for-ready RPCs must ride the failover; at most the one in flight may fail): %v", n, l.failures)
		} else if n == 1 {
			t.Logf("the RPC in flight when f1 stopped failed: %v", l.failures)
		}
	})

	t.Run("ServiceAppears", func(t *testing.T) {
		conn := dialDnsdisc(t, e.cache, "late")
		t0 := time.Now()
		_, err := who(conn, false)
		if err == nil || !strings.Contains(err.Error(), "unknown service") {
			t.Fatalf("RPC to a service not in the cache: %v, want a fast failure naming it", err)
		}
		t.Logf("service not in the cache: RPC failed after %v: %v", time.Since(t0), err)
		// The daemon gets the service (reload): the same ClientConn recovers by itself.
		conf, _ := os.ReadFile(e.conf)
		os.WriteFile(e.conf, append(conf, []byte("[service late]\nsrv = _grpc._tcp.weights.example.com\n")...), 0o644)
		t0 = time.Now()
		e.daemon.Process.Signal(syscall.SIGHUP)
		if !waitFor(10*time.Second, func() bool { _, err := who(conn, false); return err == nil }) {
			t.Fatal("no successful RPC within 10 s of the daemon publishing the service")
		}
		t.Logf("service published after a reload: RPCs succeed %v after SIGHUP, without re-dialing", time.Since(t0))
	})

	t.Run("DNSOutage", func(t *testing.T) {
		pid, _ := strconv.Atoi(os.Getenv("DNSDISC_E2E_NAMED_PID"))
		if pid <= 0 {
			t.Fatal("DNSDISC_E2E_NAMED_PID not set")
		}
		conn := dialDnsdisc(t, e.cache, "scale")
		l := startLoop(conn, false, 2*time.Millisecond)
		defer l.end()
		if !waitFor(5*time.Second, func() bool { _, ok := l.firstOf("s1"); return ok }) {
			t.Fatal("scale not reached")
		}
		// BIND stops answering (SIGSTOP): queries time out, the daemon serves the last good set as stale.
		syscall.Kill(pid, syscall.SIGSTOP)
		stopped := true
		defer func() {
			if stopped {
				syscall.Kill(pid, syscall.SIGCONT)
			}
		}()
		t0 := time.Now()
		if !waitFor(15*time.Second, func() bool { _, info := scheduled(c, "scale"); return info.State == dnsdisc.StateStale }) {
			t.Fatal("the daemon did not mark scale stale within 15 s of BIND stopping")
		}
		t.Logf("DNS outage: scale stale %v after BIND stopped", time.Since(t0))
		n := l.ok.Load()
		time.Sleep(500 * time.Millisecond)
		syscall.Kill(pid, syscall.SIGCONT)
		stopped = false
		if !waitFor(10*time.Second, func() bool { _, info := scheduled(c, "scale"); return info.State == dnsdisc.StateOK }) {
			t.Error("scale not ok again within 10 s of BIND resuming")
		}
		if l.ok.Load() == n {
			t.Error("no RPC succeeded while the service was stale")
		}
		if f := l.nfailed(); f != 0 {
			t.Errorf("%d RPCs failed during the DNS outage: %v", f, l.failures)
		}
	})

	t.Run("FileReplaced", func(t *testing.T) {
		conn := dialDnsdisc(t, e.cache, "restart")
		l := startLoop(conn, false, 2*time.Millisecond)
		defer l.end()
		if !waitFor(5*time.Second, func() bool { _, ok := l.firstOf("r1"); return ok }) {
			t.Fatal("restart not reached")
		}
		var st0 syscall.Stat_t
		syscall.Stat(e.cache, &st0)
		// 80 more services than the file's 64 slots: the daemon replaces it by a bigger one.
		conf, _ := os.ReadFile(e.conf)
		for i := 0; i < 80; i++ {
			conf = append(conf, fmt.Sprintf("[service more%d]\nsrv = _grpc._tcp.weights.example.com\n", i)...)
		}
		os.WriteFile(e.conf, conf, 0o644)
		e.daemon.Process.Signal(syscall.SIGHUP)
		if !waitFor(10*time.Second, func() bool {
			var st syscall.Stat_t
			return syscall.Stat(e.cache, &st) == nil && st.Ino != st0.Ino && len(c.Services()) >= 80
		}) {
			t.Fatal("the daemon did not replace the cache file within 10 s")
		}
		n := l.ok.Load()
		time.Sleep(500 * time.Millisecond)
		if l.ok.Load() == n || !l.lastOf("r1").After(time.Now().Add(-200*time.Millisecond)) {
			t.Error("RPCs do not go on after the replacement")
		}
		if f := l.nfailed(); f != 0 {
			t.Errorf("%d RPCs failed across the file replacement: %v", f, l.failures)
		}
	})

	t.Run("DaemonKilledAndRestarted", func(t *testing.T) {
		conn := dialDnsdisc(t, e.cache, "restart")
		l := startLoop(conn, false, 2*time.Millisecond)
		defer l.end()
		if !waitFor(5*time.Second, func() bool {
			_, a := l.firstOf("r1")
			_, b := l.firstOf("r2")
			return a && b
		}) {
			t.Fatal("r1 and r2 not both reached")
		}
		e.stopDaemon(syscall.SIGKILL)
		okAtKill := l.ok.Load()
		// Long enough for the heartbeat to go stale (3 s).
		time.Sleep(3500 * time.Millisecond)
		if !c.Stale() {
			t.Error("the cache is not stale 3.5 s after dnsdiscd was killed")
		}
		e.startDaemon(t)
		if !waitFor(10*time.Second, func() bool { return !c.Stale() }) {
			t.Fatal("the restarted dnsdiscd did not heartbeat within 10 s")
		}
		restarted := time.Now()
		time.Sleep(time.Second)
		if !l.lastOf("r1").After(restarted) || !l.lastOf("r2").After(restarted) {
			t.Error("r1 and r2 do not both get RPCs after the restart")
		}
		t.Logf("%d RPCs while dnsdiscd was down and after its restart", l.ok.Load()-okAtKill)
		if n := l.nfailed(); n != 0 {
			t.Errorf("%d RPCs failed across the daemon's SIGKILL and restart: %v", n, l.failures)
		}
	})

	t.Run("ServiceRemovedFromDNS", func(t *testing.T) {
		conn := dialDnsdisc(t, e.cache, "gone")
		l := startLoop(conn, false, 2*time.Millisecond)
		defer l.end()
		if !waitFor(5*time.Second, func() bool {
			_, a := l.firstOf("g1")
			_, b := l.firstOf("g2")
			return a && b
		}) {
			t.Fatal("g1 and g2 not both reached")
		}
		t0 := time.Now()
		e.nsupdate(t, "update delete _grpc._tcp.gone.example.com SRV")
		var emptied time.Time
		if !waitFor(15*time.Second, func() bool {
			m, info := scheduled(c, "gone")
			if len(m) == 0 && info.State == dnsdisc.StateNegative {
				emptied = time.Now()
				return true
			}
			return false
		}) {
			t.Fatal("the daemon did not empty the service within 15 s of its removal from DNS")
		}
		if !waitFor(2*time.Second, func() bool { return l.nfailed() > 0 }) {
			t.Fatal("RPCs still succeed 2 s after the service was emptied")
		}
		l.mu.Lock()
		firstErr, msg := l.firstErr, l.failures[0]
		l.mu.Unlock()
		t.Logf("removed from DNS: served %v more, emptied by the daemon after %v, first failed RPC %v after: %s",
			firstErr.Sub(t0), emptied.Sub(t0), firstErr.Sub(t0), msg)
		// The reader polls every 10 ms; the resolver is woken at once.
		if firstErr.Before(emptied.Add(-20 * time.Millisecond)) {
			t.Errorf("an RPC failed %v before the daemon emptied the service", emptied.Sub(firstErr))
		}
		if !strings.Contains(msg, `service "gone" has no backend to offer (state negative`) {
			t.Errorf("unclear error: %s", msg)
		}
	})

	// The built-in resolver's figure: up to 60 s after the scale-up.
	if !scaleUpAt.IsZero() {
		waitFor(time.Until(scaleUpAt.Add(60*time.Second)), func() bool { _, ok := plainLoop.firstOf("s3"); return ok })
		if at, ok := plainLoop.firstOf("s3"); ok {
			fmt.Printf("FIGURE scale-up dns:/// round_robin: first RPC to the new backend %d ms after nsupdate\n",
				at.Sub(scaleUpAt).Milliseconds())
		} else {
			fmt.Printf("FIGURE scale-up dns:/// round_robin: no RPC to the new backend within 60 s\n")
		}
	}
}
