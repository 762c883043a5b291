package mtp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeListener hands out the Conns given to it, then fails with err.
type fakeListener struct {
	conns  chan Conn
	err    error
	mu     sync.Mutex
	closed bool
	stop   chan struct{}
}

func newFake(err error, conns ...Conn) *fakeListener {
	f := &fakeListener{conns: make(chan Conn, len(conns)), err: err, stop: make(chan struct{})}
	for _, c := range conns {
		f.conns <- c
	}
	return f
}

func (f *fakeListener) Accept(ctx context.Context) (Conn, error) {
	select {
	case c := <-f.conns:
		return c, nil
	default:
	}
	if f.err != nil {
		return nil, f.err
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-f.stop:
		return nil, ErrClosed
	}
}

func (f *fakeListener) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.stop)
	}
	return nil
}

type nopConn struct{ id string }

func (nopConn) Send(context.Context, []byte) error   { return nil }
func (nopConn) Recv(context.Context) ([]byte, error) { return nil, ErrClosed }
func (nopConn) Close() error                         { return nil }
func (c nopConn) Info() Info                         { return Info{Peer: c.id} }

// A Listener whose broker went away is replaced, after failed attempts,
// by the next; Conns of every Listener come out of the one Accept.
func TestRelisten_ReplacesABrokenListener(t *testing.T) {
	broken := fmt.Errorf("broker gone: %w", ErrBroken)
	first := newFake(broken, nopConn{"a"})
	second := newFake(nil, nopConn{"b"})
	var made []*fakeListener
	attempts := 0
	r, err := NewRelisten(context.Background(), func(context.Context) (Listener, error) {
		attempts++
		switch {
		case attempts == 1:
			made = append(made, first)
			return first, nil
		case attempts < 4:
			return nil, errors.New("connection refused")
		}
		made = append(made, second)
		return second, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.MinWait, r.MaxWait = time.Millisecond, 2*time.Millisecond
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, want := range []string{"a", "b"} {
		c, err := r.Accept(ctx)
		if err != nil || c.Info().Peer != want {
			t.Fatalf("Accept: %v, %v; want %s", c, err, want)
		}
	}
	if attempts != 4 || r.Listeners() != 2 || !first.closed || second.closed {
		t.Fatalf("attempts %d, listeners %d, first closed %v, second closed %v", attempts, r.Listeners(), first.closed, second.closed)
	}
	if err := r.Close(); err != nil || !second.closed {
		t.Fatalf("Close: %v, second closed %v", err, second.closed)
	}
	if _, err := r.Accept(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

// The first Listener's error is NewRelisten's; an error that is not
// ErrBroken, or the context's end, reaches the caller as it is; Close
// stops a wait for the next Listener.
func TestRelisten_Errors(t *testing.T) {
	if _, err := NewRelisten(context.Background(), func(context.Context) (Listener, error) { return nil, errors.New("no broker") }); err == nil {
		t.Fatal("NewRelisten without a broker succeeded")
	}
	odd := errors.New("odd")
	r, _ := NewRelisten(context.Background(), func(context.Context) (Listener, error) { return newFake(odd), nil })
	if _, err := r.Accept(context.Background()); !errors.Is(err, odd) {
		t.Fatalf("got %v, want the Listener's own error", err)
	}
	n := 0
	r, _ = NewRelisten(context.Background(), func(context.Context) (Listener, error) {
		if n++; n == 1 {
			return newFake(ErrBroken), nil
		}
		return nil, errors.New("still down")
	})
	r.MinWait = time.Hour // only Close can end the wait
	done := make(chan error, 1)
	go func() { _, err := r.Accept(context.Background()); done <- err }()
	bound := time.After(10 * time.Second)
	for r.Current() != nil { // the broken Listener is gone: Accept waits to try again
		select {
		case err := <-done:
			t.Fatalf("Accept returned early: %v", err)
		case <-bound:
			t.Fatal("the broken Listener was never dropped")
		case <-time.After(time.Millisecond):
		}
	}
	r.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("got %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the wait")
	}
}
