// Command brickyard runs a farm of simulated firmware devices: USP (TR-369)
// agents with a TR-181 data model, emulated flash and bootloaders, and power-
// loss faults, next to real boards on a serial/GPIO bench.
//
// Usage:
//
//	brickyard [--config FILE] [--log-level LEVEL] [--log-format FORMAT] COMMAND
//
// Commands:
//
//	version   print brickyard's version, Go version and platform (--json for machines)
//	boards    list the board profiles (flash chip, partitions, bootloader)
//	sweep     cut power at every flash operation of an update; count the outcomes
//	image     keygen, pack and inspect signed firmware images
//	run       run a firmware campaign scenario and report every device's outcome
//	scenarios list the built-in scenarios
//	fleet     run simulated devices against a USP controller that is not brickyard's
//	config    print the effective configuration and the source of each value
//	help      help about any command
//
// Configuration, from lowest to highest precedence: the default embedded from
// configs/brickyard.yaml, the --config FILE, BRICKYARD_* environment variables
// (BRICKYARD_LOG_LEVEL sets log.level), and flags (--log-level). Unknown keys,
// wrong types and invalid values are errors that name their source.
//
// Logs go to standard error, command output to standard output. The exit
// status is 0 on success, 3 when `run` finished but an expectation of its
// scenario failed, and 1 on any other error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first SIGINT or SIGTERM ends ctx: commands stop and write what
	// they have (a partial report). From then on the signals have their
	// default effect again, so a second one ends the process at once
	// whatever it is doing.
	go func() { <-ctx.Done(); stop() }()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs brickyard with the command-line arguments args (without the
// program name) and returns the exit status. It reads the process environment
// for BRICKYARD_* variables but changes no global state.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if args == nil {
		args = []string{} // cobra would read os.Args for nil
	}
	stdout, stderr = lockedWriter(stdout), lockedWriter(stderr)
	a := &app{stdout: stdout, stderr: stderr}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if a.log != nil {
		_ = a.log.Sync() // stderr may not support fsync; the logger is unbuffered
	}
	if err != nil {
		for line := range strings.Lines(err.Error()) {
			fmt.Fprintf(stderr, "brickyard: %s\n", strings.TrimSuffix(line, "\n"))
		}
		if ee, ok := errors.AsType[*exitError](err); ok {
			return ee.code
		}
		return 1
	}
	return 0
}

// lockedWriter is w made safe for a run's concurrent writes (the progress
// line, the logger, and the copies os/exec makes of the workers' output:
// into a writer that is not a file it copies from a goroutine of its own).
// A file is left as it is: the workers then write to it themselves.
func lockedWriter(w io.Writer) io.Writer {
	if _, ok := w.(*os.File); ok {
		return w
	}
	return &syncWriter{w: w}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
