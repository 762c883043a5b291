package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"time"

	"brickyard/scenarios/metrics"
)

//go:embed assets
var assets embed.FS

// minGap is the least time between two events of one stream: a virtual-
// time run samples far more often than a page can draw.
const minGap = 200 * time.Millisecond

// writeTimeout bounds one event's write: a page that stops reading is cut
// off instead of holding its stream's goroutine.
const writeTimeout = 10 * time.Second

// Handler serves the dashboard of l:
//
//	GET /                  the page (assets embedded in the binary)
//	GET /api/state         the State now, as JSON
//	GET /api/events        server-sent events: a "state" event with the State
//	                       on connecting and after every Sample (at most one
//	                       per 200 ms); it ends when ctx or the request ends
//	GET /api/device?id=ID  one device's DeviceView; 404 for an unknown ID
//
// Streams end when ctx ends, so that a server can shut down at once.
func Handler(ctx context.Context, l *Live) http.Handler {
	mux := http.NewServeMux()
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded folder is part of the binary
	}
	files := http.FileServerFS(static)
	mux.Handle("GET /", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /api/state", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, l.Snapshot())
	})
	mux.HandleFunc("GET /api/device", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		if id == "" {
			http.Error(w, "dashboard: give a device's endpoint ID: /api/device?id=ID", http.StatusBadRequest)
			return
		}
		v, ok := l.Device(id)
		if !ok {
			http.Error(w, fmt.Sprintf("dashboard: no device %q in this fleet", id), http.StatusNotFound)
			return
		}
		writeJSON(w, v)
	})
	mux.HandleFunc("GET /api/events", func(w http.ResponseWriter, r *http.Request) {
		stream(ctx, w, r, l)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // a client gone away is nothing to report
}

// stream writes the state as server-sent events until ctx or the request
// ends, or a write fails.
func stream(ctx context.Context, w http.ResponseWriter, r *http.Request, l *Live) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	var sent uint64
	first := true
	gap := time.NewTimer(0)
	defer gap.Stop()
	for {
		changed, version := l.Changed()
		if first || version != sent {
			data, err := json.Marshal(l.Snapshot())
			if err != nil {
				return
			}
			_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout)) // a writer without deadlines writes unbounded
			if _, err := fmt.Fprintf(w, "event: state\ndata: %s\n\n", data); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			first, sent = false, version
			gap.Reset(minGap)
			select {
			case <-gap.C:
			case <-ctx.Done():
				return
			case <-r.Context().Done():
				return
			}
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		case <-r.Context().Done():
			return
		}
	}
}

// Serve serves Handler(ctx, l) on ln until ctx ends, then shuts the server
// down (streams end at once; other requests get metrics.ShutdownTimeout).
// When it returns, the server's goroutines have ended.
func Serve(ctx context.Context, ln net.Listener, l *Live) error {
	return metrics.ServeOn(ctx, ln, Handler(ctx, l), "dashboard")
}
