package websocket

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"brickyard/mtp"
)

func benchConfig(b *testing.B, queue int) Config {
	cfg := testConfig(b)
	cfg.Logf = nil
	cfg.SendQueue = queue
	cfg.CloseTimeout = 2 * time.Second
	cfg.KeepAliveInterval = 0 // the default, 60 s: a timer per Conn, as in use
	return cfg
}

// BenchmarkRoundTrip: agent Send → controller Recv → controller Send →
// agent Recv on one session over loopback. direct-wbuf16k shows what the
// agent's fragmentation of Records over WriteBufferSize costs.
//
//	go test -run '^$' -bench RoundTrip -benchmem ./mtp/websocket/
func BenchmarkRoundTrip(b *testing.B) {
	for _, mode := range []struct {
		name       string
		queue, buf int
	}{{"direct", 0, 0}, {"queue", 16, 0}, {"direct-wbuf16k", 0, 16 << 10}} {
		for _, size := range []int{256, 4 << 10} {
			b.Run(fmt.Sprintf("%s/%dB", mode.name, size), func(b *testing.B) {
				cfg := benchConfig(b, mode.queue)
				cfg.WriteBufferSize = mode.buf
				l := listen(b, cfg)
				cfg.URL = l.URL()
				agent, ctrl := session(b, l, dialer(b, cfg), "proto::bench")
				ctx := context.Background()
				rec := bytes.Repeat([]byte{7}, size)
				b.SetBytes(int64(2 * size))
				b.ReportAllocs()
				for b.Loop() {
					if err := agent.Send(ctx, rec); err != nil {
						b.Fatal(err)
					}
					got, err := ctrl.Recv(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if err := ctrl.Send(ctx, got); err != nil {
						b.Fatal(err)
					}
					if _, err := agent.Recv(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkMemoryPerConn opens N sessions (both ends in this process),
// lets them go idle, and reports what each costs: Go heap + stacks and RSS
// per session (both ends together), and goroutines per session. One op is
// one round of N sessions, opened, measured and closed. direct-wbuf16k
// shows that pooled write buffers cost an idle session nothing.
//
//	go test -run '^$' -bench MemoryPerConn -benchtime 1x ./mtp/websocket/
func BenchmarkMemoryPerConn(b *testing.B) {
	const n = 1000
	for _, mode := range []struct {
		name       string
		queue, buf int
	}{{"direct", 0, 0}, {"queue", 16, 0}, {"direct-wbuf16k", 0, 16 << 10}} {
		b.Run(mode.name, func(b *testing.B) {
			cfg := benchConfig(b, mode.queue)
			cfg.WriteBufferSize = mode.buf
			l := listen(b, cfg)
			cfg.URL = l.URL()
			d := dialer(b, cfg)
			var heap, rss, gor float64
			rounds := 0
			for b.Loop() {
				h, r, g := memRound(b, l, d, n)
				heap, rss, gor = heap+h, rss+r, gor+g
				rounds++
			}
			b.ReportMetric(heap/float64(rounds), "heap+stack-B/conn")
			b.ReportMetric(rss/float64(rounds), "rss-B/conn")
			b.ReportMetric(gor/float64(rounds), "goroutines/conn")
		})
	}
}

func memRound(b *testing.B, l *Listener, d *Dialer, n int) (heap, rss, goroutines float64) {
	h0, r0, g0 := memNow()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctrls := make(chan mtp.Conn, n)
	acceptErr := make(chan error, 1)
	go func() {
		for range n {
			c, err := l.Accept(ctx)
			if err != nil {
				acceptErr <- err
				return
			}
			if _, err := c.Recv(ctx); err != nil { // websocket_connect: the reader is then idle
				acceptErr <- err
				return
			}
			ctrls <- c
		}
		acceptErr <- nil
	}()
	agents := make([]mtp.Conn, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var failed error
	var mu sync.Mutex
	for i := range agents {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			a, err := d.Dial(ctx, "proto::mem-"+strconv.Itoa(i))
			if err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
				return
			}
			agents[i] = a
		})
	}
	wg.Wait()
	if err := <-acceptErr; err != nil || failed != nil {
		b.Fatalf("accept: %v; dial: %v", err, failed)
	}
	h1, r1, g1 := memNow()
	b.StopTimer()
	for i := 0; i < n; i++ {
		wg.Go(func() { _ = agents[i].Close() })
		c := <-ctrls
		wg.Go(func() { _ = c.Close() })
	}
	wg.Wait()
	b.StartTimer()
	return (h1 - h0) / float64(n), (r1 - r0) / float64(n), (g1 - g0) / float64(n)
}

// memNow returns Go heap in use + stacks, RSS, and goroutines after a GC.
func memNow() (heap, rss, goroutines float64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			pages, _ := strconv.ParseFloat(f[1], 64)
			rss = pages * float64(os.Getpagesize())
		}
	}
	return float64(ms.HeapInuse + ms.StackInuse), rss, float64(runtime.NumGoroutine())
}
