// Package mtp carries USP Records between an agent and a controller: the
// message transfer protocols of TR-369. It defines the small interface that
// devices and the controller use; each transport (mtp/inproc, and the
// WebSocket, MQTT and STOMP bindings) implements it in a subpackage.
//
// A transport moves encoded Records and never reads the Messages inside
// them. The agent side sends the binding's MTP Connect Record itself, as
// the first Record of every session (R-MTP.6), before Dial returns.
//
// Goroutines: a Conn may own goroutines (a socket reader, a broker client);
// Close stops them and waits for them. Dial and Accept block; the caller
// owns the goroutine that calls them.
package mtp

import (
	"context"
	"errors"
	"time"
)

// Protocol names a binding, as Device.LocalAgent.MTP.{i}.Protocol does.
type Protocol string

const (
	WebSocket Protocol = "WebSocket"
	MQTT      Protocol = "MQTT"
	STOMP     Protocol = "STOMP"
	InProcess Protocol = "InProcess" // brickyard's own, for tests and virtual time
)

// Conn is one session between an agent and a controller.
type Conn interface {
	// Send hands one encoded Record to the transport for the peer. It
	// returns once the transport has taken it (written, published, queued)
	// or ctx ends; delivery is not acknowledged.
	Send(ctx context.Context, rec []byte) error
	// Recv blocks until the next Record from the peer, ctx ends, or the
	// session ends: after Close it returns ErrClosed; when the peer or the
	// network ends the session, an error wrapping ErrBroken.
	Recv(ctx context.Context) ([]byte, error)
	// Close ends the session and waits for the goroutines it owns. It may
	// be called more than once, and concurrently with Send and Recv.
	Close() error
	// Info describes the session.
	Info() Info
}

// Info is what an endpoint knows of a session: the protocol, the two
// endpoint IDs, and the addressing the agent's Connect Record carried.
type Info struct {
	Protocol    Protocol
	Local       string // this endpoint's ID
	Peer        string // the other endpoint's ID
	MQTTv5      bool   // MQTT: version 5 (otherwise 3.1.1)
	Topic       string // MQTT: the agent's own subscribed topic
	Destination string // STOMP: the agent's own subscribed destination
}

// CodeCloser is implemented by Conns of bindings whose close carries a
// status code (WebSocket): an endpoint whose codec refuses a Record ends
// the session with CloseWithCode(1003, reason) (R-WS.16). Check for it
// with a type assertion.
type CodeCloser interface {
	// CloseWithCode is Close with the given status code and reason.
	CloseWithCode(code int, reason string) error
}

// Batcher is implemented by Conns that can write several Records at once
// (MQTT's agent side): Queue takes a Record as Send does but may hold it
// back until the next Flush, Send or Close writes it with the others, in
// the order given. A caller with more Records to send right away (answers
// to requests that arrived together) queues them and flushes once: one
// write to the socket instead of one each. The caller must Flush before
// it waits for anything, or its peer may wait for the held Records.
type Batcher interface {
	Queue(ctx context.Context, rec []byte) error
	Flush() error
}

// Waiter is implemented by Conns whose reader can also keep its agent's
// time (MQTT's agent side): a fleet then runs such an agent on one
// goroutine, which waits in RecvBy for the next Record or its next timer,
// whichever comes first, and other goroutines Wake it when they have
// something for it. Neither a deadline nor a wake ends the session (a
// Record half read stays for the next call). RecvBy and Ready are for one
// goroutine at a time, the session's reader; Wake for any.
type Waiter interface {
	// RecvBy is Recv bounded by deadline (zero: none) and by Wake: it
	// returns ErrDeadline once deadline has passed, ErrWoken when Wake
	// was called since the last RecvBy that returned ErrWoken.
	RecvBy(deadline time.Time) ([]byte, error)
	// Wake makes the RecvBy under way, or else the next, return ErrWoken.
	Wake()
	// Ready reports whether a Record is at hand: RecvBy will not wait.
	Ready() bool
}

// ErrDeadline and ErrWoken are why a Waiter's RecvBy returned without a
// Record.
var (
	ErrDeadline = errors.New("mtp: deadline passed")
	ErrWoken    = errors.New("mtp: woken")
)

// Dialer opens an agent's sessions to its controller; the controller's
// address and endpoint ID are the Dialer's configuration.
type Dialer interface {
	// Dial opens a session for the agent agentID, sends the binding's
	// Connect Record, and returns the session.
	Dial(ctx context.Context, agentID string) (Conn, error)
}

// Listener gives the controller one Conn per agent session.
type Listener interface {
	// Accept blocks until an agent's session starts or ctx ends; after
	// Close it returns ErrClosed.
	Accept(ctx context.Context) (Conn, error)
	// Close stops accepting, ends every session it gave out, and waits for
	// the goroutines it owns.
	Close() error
}

var (
	// ErrClosed is returned by a Conn or Listener used after Close.
	ErrClosed = errors.New("mtp: closed")
	// ErrBroken is wrapped by the error of a session the peer or the
	// network ended.
	ErrBroken = errors.New("mtp: session broken")
)
