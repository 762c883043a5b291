package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"brickyard/scenarios/dashboard"
	"brickyard/scenarios/metrics"
)

// maxLinger bounds --linger: a day keeps a final state up for the next
// morning.
const maxLinger = 24 * time.Hour

// serveDashboard serves the live dashboard of cfg on addr (--dashboard)
// until stop, which ends the server and waits for it. With addr empty it
// starts nothing and returns a nil Live (whose methods do nothing). An
// address other hosts can reach is refused unless expose
// (--dashboard-expose).
func serveDashboard(log *zap.Logger, addr string, expose bool, cfg dashboard.Config) (l *dashboard.Live, stop func(), err error) {
	if addr == "" {
		return nil, func() {}, nil
	}
	if err := checkLoopback(addr, expose, "--dashboard-expose"); err != nil {
		return nil, nil, fmt.Errorf("--dashboard: %w", err)
	}
	ln, err := metrics.Listen(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("--dashboard: %w", err)
	}
	l = dashboard.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := dashboard.Serve(ctx, ln, l); err != nil {
			log.Warn("dashboard", zap.Error(err))
		}
	}()
	log.Info("dashboard", zap.String("url", "http://"+ln.Addr().String()+"/"))
	return l, func() { cancel(); wg.Wait() }, nil
}

// checkLinger refuses a --linger that is negative, too long, or with
// nothing to serve.
func checkLinger(d time.Duration, dashboardAddr, metricsAddr string) error {
	switch {
	case d < 0 || d > maxLinger:
		return fmt.Errorf("--linger: %v: want 0 to %v", d, maxLinger)
	case d > 0 && dashboardAddr == "" && metricsAddr == "":
		return errors.New("--linger: nothing to keep serving: give --dashboard or --metrics-addr")
	}
	return nil
}

// linger keeps the dashboard and the metrics endpoint up for d once the
// run is over, or until ctx ends (Ctrl-C).
func linger(ctx context.Context, log *zap.Logger, d time.Duration) {
	if d <= 0 || ctx.Err() != nil {
		return
	}
	log.Info("the run is over; its final state stays served", zap.Duration("linger", d), zap.String("hint", "Ctrl-C ends it sooner"))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
