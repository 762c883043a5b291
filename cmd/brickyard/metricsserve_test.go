package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap"

	"brickyard/scenarios/metrics"
	"brickyard/sim/index"
)

func TestServeMetrics_Pprof(t *testing.T) {
	idx, err := index.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := serveMetrics(zap.NewNop(), "", false, true, idx, metrics.RoleAgent); err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
		t.Fatalf("--pprof without --metrics-addr: %v, want an error naming --metrics-addr", err)
	}
	for _, withPprof := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, stop, err := serveMetrics(zap.NewNop(), addr, false, withPprof, idx, metrics.RoleAgent)
		if err != nil {
			t.Fatal(err)
		}
		get := func(path string) (int, string) {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		if code, _ := get("/metrics"); code != http.StatusOK {
			t.Errorf("pprof %v: /metrics %d", withPprof, code)
		}
		want := http.StatusNotFound
		if withPprof {
			want = http.StatusOK
		}
		if code, _ := get("/debug/pprof/heap?debug=1"); code != want {
			t.Errorf("pprof %v: /debug/pprof/heap %d, want %d", withPprof, code, want)
		}
		if _, page := get("/"); strings.Contains(page, "/debug/pprof/") != withPprof {
			t.Errorf("pprof %v: the page at / says:\n%s", withPprof, page)
		}
		stop()
	}
}
