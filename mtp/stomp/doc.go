// Package stomp is the STOMP 1.2 binding of USP (TR-369 "STOMP Binding"):
// agents each hold their own connection to a broker, and a controller
// holds one connection on which it hears every agent.
//
// An agent's Dial, in order:
//
//  1. TCP (from the next mtp.Sources address), then TLS if configured.
//  2. A STOMP frame (the command STOMP, not CONNECT) with accept-version:1.2,
//     host (VirtualHost, default "/"), login and passcode when set,
//     heart-beat:<out>,<in> in milliseconds (0,0 when off) and
//     endpoint-id:<EID>. STOMP 1.2 escapes header values of every frame but
//     CONNECT and CONNECTED, so "os::00256D-1" goes out as "os\c\c00256D-1".
//  3. CONNECTED must say version:1.2. Its heart-beat is obeyed: a direction
//     is on only if both sides want it, at the larger interval; a beat goes
//     out after half that interval without writes, and a broker silent for
//     twice its interval has broken the session. Its subscribe-dest, when
//     present, replaces AgentDest. Neither: DISCONNECT and fail with
//     ErrBroken (retry later).
//  4. SUBSCRIBE id:0, the own destination, ack:auto.
//  5. SEND of the stomp_connect Record {V1_2, own destination} to
//     ControllerDest, with content-type:application/vnd.bbf.usp.msg,
//     content-length, reply-to-dest:<own destination> and a receipt; Dial
//     returns when the RECEIPT arrives (the broker then holds the
//     subscription, frames on one connection being handled in order).
//
// Then Send is a SEND to the reply-to-dest of the last MESSAGE that Recv
// returned, or else to ControllerDest, always with reply-to-dest naming
// the agent's own destination. Recv returns the bodies of MESSAGE frames
// of the subscription. An ERROR frame, a malformed frame, a write error or
// heart-beat silence (twice the incoming interval) ends the session:
// Send and Recv then return an error wrapping mtp.ErrBroken. Reconnecting
// is the caller's job. BEGIN, COMMIT, ABORT, ACK and NACK are never sent;
// Close writes the queued frames and DISCONNECT with a receipt, and closes
// the socket when the RECEIPT arrives (at most a second later), so that
// the broker has dropped the session's subscription before the same agent
// subscribes again.
//
// The controller's side is NewListener (see there); EmbeddedBroker is
// go-stomp's server in the process.
//
// Why not go-stomp's client (stomp.Conn, v3.1.3)? It can send STOMP
// (ConnOpt.UseStomp) but, read in its conn.go and frame/reader.go:
//
//   - heart-beats: it expects the broker's beats at max(broker's sx, its own
//     ReadTimeout) even when the broker says sx=0, so it drops a session a
//     broker keeps correctly silent, and sends at the broker's sy even when
//     it offered 0; STOMP 1.2 and TR-369 say both sides' zero wins;
//   - frame.Reader allocates whatever content-length says (up to 4 GiB)
//     and reads header lines and NUL-terminated bodies without bound: one
//     bad frame can exhaust memory;
//   - its process loop hands each MESSAGE to the subscription with a
//     blocking send, so a slow reader stops its heart-beats; its read loop
//     can stay blocked forever after the process loop ends; and Close
//     cannot wait for its three goroutines per connection.
//
// So this package speaks the protocol itself over net.Conn (wire.go,
// session.go: two goroutines per connection, bounded queues, limits on
// every frame) and uses go-stomp for its command and header names, for
// EmbeddedBroker, and in tests as an independent peer: frames written
// here are read by go-stomp's reader and the other way round.
package stomp
