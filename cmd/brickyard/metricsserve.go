package main

import (
	"context"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"brickyard/scenarios/metrics"
	"brickyard/sim/index"
)

// serveMetrics serves Prometheus metrics on addr (--metrics-addr) while
// following idx. It owns the two goroutines it starts; stop ends them and
// waits. With addr empty it starts nothing and returns a nil Metrics.
func serveMetrics(log *zap.Logger, addr string, idx *index.Index) (m *metrics.Metrics, stop func(), err error) {
	if addr == "" {
		return nil, func() {}, nil
	}
	m = metrics.New()
	ln, err := metrics.Listen(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	log.Info("metrics", zap.String("url", "http://"+ln.Addr().String()+"/metrics"))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = metrics.ServeListener(ctx, ln, m.Handler()) }()
	go func() { defer wg.Done(); _ = m.Follow(ctx, idx) }()
	return m, func() { cancel(); wg.Wait() }, nil
}
