package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ConsoleServer serves a bench board's console as a raw TCP port, as
// ser2net serves a serial port: every client gets the board's console
// text from when it connects (frames are not text: they stay brickyard's).
// What a client sends is read and dropped: the UART carries brickyard's
// frames, and a person's keystrokes would corrupt them. One goroutine per
// client and one accepting, all ended by Close.
type ConsoleServer struct {
	l       net.Listener
	console *Console
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closed  bool
}

// ServeConsole serves c on l until Close.
func ServeConsole(l net.Listener, c *Console) *ConsoleServer {
	s := &ConsoleServer{l: l, console: c, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s
}

// Addr is where the console is served.
func (s *ConsoleServer) Addr() net.Addr { return s.l.Addr() }

func (s *ConsoleServer) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.conns[conn] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(2)
		text, stop := s.console.Subscribe()
		go func() { // what the client sends: dropped, until it hangs up
			defer s.wg.Done()
			_, _ = io.Copy(io.Discard, conn)
			conn.Close()
			stop() // ends the writer's range
		}()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
				conn.Close()
			}()
			for b := range text {
				_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := conn.Write(b); err != nil {
					return
				}
			}
		}()
	}
}

// Close stops accepting, hangs up every client and waits for their
// goroutines.
func (s *ConsoleServer) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.l.Close()
	s.wg.Wait()
	return err
}

// Outlet switches one bench board's power for a lab's tools. It must be
// safe to call from any goroutine: its owner hands the switch to whoever
// drives the board.
type Outlet func(ctx context.Context, on bool) error

// PDUHandler serves bench boards' power to a lab's tools, on loopback by
// default, in two forms:
//
//   - pdudaemon's URL form, so that LAVA's pdudaemon client (or curl in a
//     pdudaemon localcmdline driver) can point at brickyard as at a
//     pdudaemon: GET /power/control/on|off|reboot?hostname=H&port=N, where
//     H is hostname and N an outlet's number; reboot is off, delay seconds
//     (default 5, pdudaemon's), on. 200 "OK - accepted request", 500
//     "Invalid request" as pdudaemon answers.
//   - ESPHome's web_server switch form, so that a lab's pdudaemon drives
//     brickyard with its esphome-http driver: POST /switch/ID/turn_on and
//     /switch/ID/turn_off, where ID is "outlet-N".
//
// A reboot's delay runs in the request, as pdudaemon's does.
func PDUHandler(hostname string, outlets map[int]Outlet) http.Handler {
	mux := http.NewServeMux()
	control := func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		cmd := strings.TrimPrefix(r.URL.Path, "/power/control/")
		n, err := strconv.Atoi(q.Get("port"))
		o := outlets[n]
		delay := 5 * time.Second
		if d := q.Get("delay"); d != "" {
			s, derr := strconv.Atoi(d)
			if derr != nil || s < 0 || s > 3600 {
				err = errors.New("bad delay")
			}
			delay = time.Duration(s) * time.Second
		}
		if q.Get("hostname") != hostname || err != nil || o == nil {
			http.Error(w, "Invalid request", http.StatusInternalServerError)
			return
		}
		switch cmd {
		case "on", "off":
			err = o(r.Context(), cmd == "on")
		case "reboot":
			if err = o(r.Context(), false); err == nil {
				t := time.NewTimer(delay)
				select {
				case <-t.C:
					err = o(r.Context(), true)
				case <-r.Context().Done():
					t.Stop()
					err = r.Context().Err()
				}
			}
		}
		if err != nil {
			http.Error(w, "Invalid request: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "OK - accepted request")
	}
	for _, c := range []string{"on", "off", "reboot"} {
		mux.HandleFunc("GET /power/control/"+c, control)
	}
	mux.HandleFunc("POST /switch/{id}/{cmd}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.PathValue("id"), "outlet-"))
		o := outlets[n]
		if err != nil || o == nil || !strings.HasPrefix(r.PathValue("id"), "outlet-") {
			http.NotFound(w, r)
			return
		}
		switch r.PathValue("cmd") {
		case "turn_on":
			err = o(r.Context(), true)
		case "turn_off":
			err = o(r.Context(), false)
		default:
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

// Lab is the lab's view of a fleet's bench boards: each board's console
// on its own address, and their power on one address in pdudaemon's URL
// form. Close ends everything it started.
type Lab struct {
	consoles []*ConsoleServer
	pdu      *http.Server
	wg       sync.WaitGroup
	// Where the lab finds them, one line each ("console of bench-1 on
	// tcp://127.0.0.1:7001", "power of 2 boards on http://…").
	Addrs []string
}

// ServeLab serves consoles[i] (a listen address, "" for none) for board
// i, and, if pduAddr is set, every board's power as PDU hostname, outlet
// i+1 switched by power(i, on).
func ServeLab(boards []*Board, names, consoles []string, pduAddr, hostname string, power func(i int, on bool) error) (*Lab, error) {
	lab := &Lab{}
	for i, b := range boards {
		if consoles[i] == "" {
			continue
		}
		l, err := net.Listen("tcp", consoles[i])
		if err != nil {
			lab.Close()
			return nil, fmt.Errorf("bench board %s: console: %w", names[i], err)
		}
		lab.consoles = append(lab.consoles, ServeConsole(l, b.Console()))
		lab.Addrs = append(lab.Addrs, fmt.Sprintf("console of %s on tcp://%s", names[i], l.Addr()))
	}
	if pduAddr == "" || len(boards) == 0 {
		return lab, nil
	}
	outlets := map[int]Outlet{}
	for i := range boards {
		outlets[i+1] = func(_ context.Context, on bool) error { return power(i, on) }
	}
	l, err := net.Listen("tcp", pduAddr)
	if err != nil {
		lab.Close()
		return nil, fmt.Errorf("bench.pdu_addr: %w", err)
	}
	if hostname == "" {
		hostname = "brickyard"
	}
	lab.pdu = &http.Server{Handler: PDUHandler(hostname, outlets), ReadHeaderTimeout: 10 * time.Second}
	lab.wg.Add(1)
	go func() {
		defer lab.wg.Done()
		_ = lab.pdu.Serve(l)
	}()
	lab.Addrs = append(lab.Addrs, fmt.Sprintf("power of %d boards on http://%s/power/control/on|off|reboot?hostname=%s&port=N", len(boards), l.Addr(), hostname))
	return lab, nil
}

// Close stops serving.
func (lab *Lab) Close() {
	if lab == nil {
		return
	}
	if lab.pdu != nil {
		_ = lab.pdu.Close()
	}
	for _, c := range lab.consoles {
		_ = c.Close()
	}
	lab.wg.Wait()
}
