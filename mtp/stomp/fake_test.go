package stomp

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	gframe "github.com/go-stomp/stomp/v3/frame"
)

// fakeBroker is a scripted STOMP server that reads and writes with
// go-stomp's frame package: an independent implementation of the wire
// format, which decodes header escapes as a broker does.
type fakeBroker struct {
	ln net.Listener
	wg sync.WaitGroup
	mu sync.Mutex
	nc []net.Conn
}

func newFakeBroker(t *testing.T, script func(*fakeConn)) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fb := &fakeBroker{ln: ln}
	fb.wg.Add(1)
	go func() {
		defer fb.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			fb.mu.Lock()
			fb.nc = append(fb.nc, nc)
			fb.mu.Unlock()
			fb.wg.Add(1)
			go func() {
				defer fb.wg.Done()
				fc := &fakeConn{t: t, nc: nc}
				fc.r = gframe.NewReader(io.TeeReader(nc, &fc.raw))
				fc.w = gframe.NewWriter(nc)
				script(fc)
				_ = nc.Close() // the script is over: hang up
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		fb.mu.Lock()
		for _, nc := range fb.nc {
			_ = nc.Close()
		}
		fb.mu.Unlock()
		fb.wg.Wait()
	})
	return fb
}

func (fb *fakeBroker) addr() string { return fb.ln.Addr().String() }

type fakeConn struct {
	t   *testing.T
	nc  net.Conn
	r   *gframe.Reader
	w   *gframe.Writer
	raw lockedBuffer // every byte the client sent
}

// readFrame returns the next frame (heart-beats skipped), nil at the end.
func (fc *fakeConn) readFrame() *gframe.Frame {
	for {
		_ = fc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		f, err := fc.r.Read()
		if err != nil {
			return nil
		}
		if f != nil {
			return f
		}
	}
}

func (fc *fakeConn) write(cmd string, body []byte, hdr ...string) {
	f := gframe.New(cmd, hdr...)
	f.Body = body
	_ = fc.w.Write(f)
}

// handshake plays a broker through Dial: it answers STOMP with CONNECTED
// (plus extra headers), takes SUBSCRIBE and the stomp_connect SEND, and
// sends the RECEIPT. It returns the three frames.
func (fc *fakeConn) handshake(connected ...string) (connect, sub, snd *gframe.Frame) {
	connect = fc.readFrame()
	fc.write("CONNECTED", nil, append([]string{"version", "1.2"}, connected...)...)
	sub = fc.readFrame()
	snd = fc.readFrame()
	if snd != nil {
		r, _ := snd.Header.Contains("receipt")
		fc.write("RECEIPT", nil, "receipt-id", r)
	}
	return connect, sub, snd
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rawClient is a STOMP client made of go-stomp's frame writer, for
// sending what a Conn cannot (foreign Records, garbage, chosen headers).
type rawC struct {
	nc net.Conn
	w  *gframe.Writer
	r  *gframe.Reader
}

func rawClient(t testing.TB, addr string) *rawC {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	c := &rawC{nc: nc, w: gframe.NewWriter(nc), r: gframe.NewReader(bufio.NewReader(nc))}
	c.send(t, "STOMP", nil, "accept-version", "1.2", "host", "/", "login", "guest", "passcode", "guest")
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if f, err := c.r.Read(); err != nil || f == nil || f.Command != "CONNECTED" {
		t.Fatalf("raw client: %v %v", f, err)
	}
	return c
}

// send writes a frame; with a body it adds content-length, durable queue
// headers as brickyard's own sessions send them, and a receipt it waits for.
func (c *rawC) send(t testing.TB, cmd string, body []byte, hdr ...string) {
	t.Helper()
	f := gframe.New(cmd, hdr...)
	if body != nil {
		f.Body = body
		f.Header.Set("content-length", strconv.Itoa(len(body)))
		f.Header.Set("receipt", "r")
		qh := (&Config{}).queueHeaders()
		for i := 0; i < len(qh); i += 2 {
			f.Header.Set(qh[i], qh[i+1])
		}
	}
	if err := c.w.Write(f); err != nil {
		t.Fatal(err)
	}
	if body != nil {
		for {
			r, err := c.r.Read()
			if err != nil {
				t.Fatalf("raw client: waiting for RECEIPT: %v", err)
			}
			if r != nil && r.Command == "RECEIPT" {
				return
			}
			if r != nil && r.Command == "ERROR" {
				t.Fatalf("raw client: %s %s", r.Header.Get("message"), r.Body)
			}
		}
	}
}
