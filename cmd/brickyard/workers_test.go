package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// TestMain lets the test binary be brickyard's workers: a parent under
// test (--workers) starts os.Executable, which is this binary, with the
// hidden worker command; and be brickyard as a process of its own ("pod"
// and brickyard's arguments).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "pod" { // brickyard's own command line, as a process (deploy_test.go)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
