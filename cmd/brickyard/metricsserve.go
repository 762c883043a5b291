package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"sync"

	"go.uber.org/zap"

	"brickyard/scenarios/metrics"
	"brickyard/sim/index"
)

// serveMetrics serves Prometheus metrics on addr (--metrics-addr) while
// following idx. It owns the two goroutines it starts; stop ends them and
// waits. With addr empty it starts nothing and returns a nil Metrics. An
// address other hosts can reach (0.0.0.0, a LAN address) is refused unless
// expose (--metrics-expose) says so: the help promises loopback. With
// withPprof (--pprof) the same server also serves Go's profiles under
// /debug/pprof/, which needs an address.
func serveMetrics(log *zap.Logger, addr string, expose, withPprof bool, idx *index.Index, role string) (m *metrics.Metrics, stop func(), err error) {
	if addr == "" {
		if withPprof {
			return nil, nil, errors.New("--pprof serves on --metrics-addr: give one")
		}
		return nil, func() {}, nil
	}
	m = newMetrics(role)
	stop, err = serveHandler(log, addr, expose, withPprof, m.Handler(), func(ctx context.Context) { _ = m.Follow(ctx, idx) })
	if err != nil {
		return nil, nil, err
	}
	return m, stop, nil
}

// newMetrics is a run's or fleet's Metrics: role the side whose traffic
// it counts, and this binary's version.
func newMetrics(role string) *metrics.Metrics {
	bi, ok := debug.ReadBuildInfo()
	vi := newVersionInfo(version, bi, ok)
	return metrics.New(metrics.WithRole(role), metrics.WithBuild(vi.Version, vi.Revision))
}

// serveAggregate serves the one metrics endpoint of a fleet in workers
// (agg: the parent's own metrics and every worker's, summed) on addr,
// as serveMetrics does; with addr empty it serves nothing.
func serveAggregate(log *zap.Logger, addr string, expose, withPprof bool, agg *metrics.Aggregate) (stop func(), err error) {
	if addr == "" {
		if withPprof {
			return nil, errors.New("--pprof serves on --metrics-addr: give one")
		}
		return func() {}, nil
	}
	return serveHandler(log, addr, expose, withPprof, agg.Handler(), nil)
}

// serveHandler serves h as /metrics on addr, Go's profiles beside it with
// withPprof, and runs also (if set) until stop; it owns the goroutines.
func serveHandler(log *zap.Logger, addr string, expose, withPprof bool, h http.Handler, also func(context.Context)) (stop func(), err error) {
	if err := checkLoopback(addr, expose, "--metrics-expose"); err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	ln, err := metrics.Listen(addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	log.Info("metrics", zap.String("url", "http://"+ln.Addr().String()+"/metrics"))
	var routes []metrics.Route
	if withPprof {
		routes = []metrics.Route{
			{Pattern: "GET /debug/pprof/", Handler: http.HandlerFunc(pprof.Index), About: "Go's profiles (--pprof): go tool pprof URL/debug/pprof/profile"},
			{Pattern: "GET /debug/pprof/cmdline", Handler: http.HandlerFunc(pprof.Cmdline)},
			{Pattern: "GET /debug/pprof/profile", Handler: http.HandlerFunc(pprof.Profile)},
			{Pattern: "GET /debug/pprof/symbol", Handler: http.HandlerFunc(pprof.Symbol)},
			{Pattern: "GET /debug/pprof/trace", Handler: http.HandlerFunc(pprof.Trace)},
		}
		log.Info("pprof", zap.String("url", "http://"+ln.Addr().String()+"/debug/pprof/"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = metrics.ServeListener(ctx, ln, h, routes...) }()
	if also != nil {
		wg.Add(1)
		go func() { defer wg.Done(); also(ctx) }()
	}
	return func() { cancel(); wg.Wait() }, nil
}

// checkLoopback refuses a listening address that is not on loopback
// (127.0.0.0/8, ::1, localhost), unless expose (the flag exposeFlag).
func checkLoopback(addr string, expose bool, exposeFlag string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if expose || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	if host == "" {
		host = "every interface"
	}
	return fmt.Errorf("%s: %s is not loopback: add %s to serve to other hosts", addr, host, exposeFlag)
}
