// Package websocket is the WebSocket binding of TR-369 (USP §5.2, RFC 6455)
// on gorilla/websocket: NewDialer gives agents their sessions to a
// controller, NewListener serves a controller's endpoint on an http.Server.
//
// # Handshake
//
//   - The agent asks for the subprotocol "v1.usp" and refuses a server that
//     does not answer with it; the listener answers 400 to a request that
//     does not ask for it, before any upgrade.
//   - The agent's endpoint ID travels in the query item "eid", joined to the
//     URL's own query with "&" and percent-encoded as obuspa does: every
//     byte except A-Z a-z 0-9 - . _ ~, so "%" becomes "%25" (R-WS.10c). The
//     listener decodes "%HH" only ("+" stays "+"); a client of USP ≤ 1.2
//     that sends only the deprecated extension
//     `bbf-usp-protocol; eid="…"` (R-WS.10a) is read from there instead.
//   - When the client offers the bbf-usp-protocol extension, the listener
//     answers it with the controller's own ID. The agent never offers it;
//     if a server sends it anyway with an ID other than Config.ControllerID,
//     Dial fails (as obuspa does). Its absence is never an error.
//   - Dial sends the websocket_connect Record (R-MTP.6) before it returns,
//     so it is the first Record the controller receives.
//
// # Frames and limits
//
// One Record per binary data message (R-WS.14). A text message is refused
// with close code 1003 (R-WS.16) by the transport itself; a Record the
// endpoint's codec refuses is closed with 1003 by the endpoint through
// CloseWithCode (see mtp.CodeCloser). A message longer than Config.MaxRecordSize
// is refused with 1009 before it is read. Fragmented messages are accepted.
// The controller side always sends a Record as one frame; the agent side
// (gorilla masks client frames inside its write buffer) sends a Record
// longer than Config.WriteBufferSize as several frames of that size. USP
// 1.4 peers must accept that; the default buffer is small to keep idle
// memory low (see Config.WriteBufferSize).
//
// # Sessions
//
// At most one session per agent endpoint ID (R-WS.4, TP-469 7.2): by
// default a new session from an ID closes the old one (ReplaceOld: the old
// Conn ends with ErrBroken after a Close frame 1000), so that an agent that
// rebooted is not locked out by its own half-open session; RefuseNew
// answers the newcomer 409 instead.
//
// Both ends send a Ping every KeepAliveInterval (R-WS.17) and answer Pings
// with Pongs (gorilla's default handler, R-WS.18); unsolicited Pongs are
// ignored. When nothing at all arrived from the peer in two intervals in a
// row, the session ends with ErrBroken (a dead peer or a half-open
// connection): two to three intervals after the peer went silent.
// Close performs the close handshake: it sends a Close frame and waits,
// at most Config.CloseTimeout, for the peer's Close; a Close from the peer
// is answered with a Close (TP-469 7.4).
//
// # Goroutines
//
// Each Conn owns one reader goroutine: it reads every frame, answers
// control frames, and hands Records to Recv one at a time (unbuffered: a
// Conn that is not read stops reading its socket, and TCP pushes back on
// the peer; meanwhile it sees no Pong and no Close, so the peer's Close
// waits out its CloseTimeout and this end's dead-peer check skips those
// intervals). The reader is the owner of the session: when it returns, the
// session is over, the socket is closed, and any child it started has been
// waited for. With Config.SendQueue > 0 the reader starts a writer child fed
// by a queue of that length; by default (0) Send writes directly, one
// sender at a time, which costs less (BenchmarkMemoryPerConn: about 15 KB
// of Go heap and stacks per idle session, both ends, instead of 23 KB) and
// is no slower (BenchmarkRoundTrip). Pings come from a timer
// (time.AfterFunc), not a goroutine. Conn.Close waits for the reader, its
// child and an in-flight Ping. Send, Recv and Close may be called from
// any goroutines, concurrently.
//
// The Listener owns its http.Server's Serve goroutine; net/http's
// per-connection goroutines run the handshake and return once the session
// is handed to Accept. Listener.Close stops accepting, closes every session
// (close code 1001) and waits for all of it.
//
// Nothing in this package logs by itself: errors are returned, and
// Config.Logf (when set) gets one line per dropped session (one that ends
// other than by the local Close or the peer's Close 1000) and per refused
// handshake.
package websocket
