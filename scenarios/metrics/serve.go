package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// ShutdownTimeout is how long ServeListener lets in-flight scrapes finish
// once its context ends before it closes their connections.
const ShutdownTimeout = 2 * time.Second

const rootPage = `brickyard metrics

/metrics  Prometheus exposition of the fleet run (see docs/metrics.md)
`

// Listen opens a TCP listener on addr, e.g. "127.0.0.1:9469", or
// "127.0.0.1:0" for a free port (ln.Addr() tells which), for ServeListener.
func Listen(addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen: %w", err)
	}
	return ln, nil
}

// Serve listens on addr and serves h as ServeListener does.
func Serve(ctx context.Context, addr string, h http.Handler) error {
	ln, err := Listen(addr)
	if err != nil {
		return err
	}
	return ServeListener(ctx, ln, h)
}

// Route is one more endpoint ServeListener serves beside /metrics: Pattern
// is an http.ServeMux pattern ("/debug/pprof/"), About its line on the
// text page at /.
type Route struct {
	Pattern string
	Handler http.Handler
	About   string
}

// ServeListener serves h (normally Metrics.Handler) at /metrics, the more
// routes, and a short text page at / that lists them on ln, which it takes over and closes. It blocks until ctx
// ends, then shuts the server down, giving in-flight requests
// ShutdownTimeout to finish, and returns nil; it returns earlier, with the
// error, if the server fails. When it returns, the server's goroutines have
// ended; only if a request outlived ShutdownTimeout (its connection is then
// closed and an error returned) may that request's handler still be
// finishing.
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler, more ...Route) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	page := rootPage
	for _, r := range more {
		mux.Handle(r.Pattern, r.Handler)
		if r.About != "" {
			page += fmt.Sprintf("%s  %s\n", strings.TrimPrefix(r.Pattern, "GET "), r.About)
		}
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, page)
	})
	return ServeOn(ctx, ln, mux, "metrics")
}

// ServeOn serves h on ln until ctx ends, then shuts the server down,
// giving requests under way ShutdownTimeout to finish; it returns earlier,
// with the error, if the server fails. The requests' contexts derive from
// ctx, so that a long-lived one (a stream) ends with it. When it returns,
// the server's goroutines have ended. Its errors begin with name.
func ServeOn(ctx context.Context, ln net.Listener, h http.Handler, name string) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("%s: serve: %w", name, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("%s: shutdown: %w", name, err))
		if err := srv.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: close: %w", name, err))
		}
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("%s: serve: %w", name, err))
	}
	return errors.Join(errs...)
}
