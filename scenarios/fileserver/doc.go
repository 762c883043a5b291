// Package fileserver is the firmware file server of the embedded USP
// controller: devices told to FirmwareImage.{i}.Download() fetch their
// images from it over HTTP or HTTPS, and it can be told to misbehave so
// that firmware teams can study slow, truncated, corrupt and failed
// downloads caused by the server side.
//
// # Rules
//
// Loopback only. New refuses any listen address that is not on
// 127.0.0.0/8, ::1 or "localhost" (an empty host, 0.0.0.0 and :: are
// refused too), and Start checks the address it actually got. The server
// is a test fixture with deliberately broken behaviour: it is never
// exposed to a network.
//
// What it serves. Files registered with Add, matched exactly against the
// request's URL path; Add and Remove may be called at any time, also while
// serving. GET answers 200 with the whole file (Content-Type
// application/octet-stream, Content-Length), HEAD the same headers without
// a body; an unknown path is 404, any other method 405 (with an Allow
// header). Range requests are not supported: a Range header is ignored.
// When Config.Username or Config.Password is set every request must carry
// matching HTTP Basic credentials, compared in constant time; otherwise it
// is answered 401 with WWW-Authenticate: Basic realm="brickyard". Only
// HTTP/1.1 is spoken (also over TLS), as on embedded clients, so a cut
// transfer is a cut connection.
//
// # Faults
//
// Config.Faults, when set, is called once per authorized GET or HEAD of a
// registered file, on the request's goroutine, and returns the Fault to
// apply; it must be safe for concurrent use. A zero Fault is a normal
// answer. For HEAD only Status applies. In order of precedence:
//
//   - Status (200 < Status < 600): the request is answered with that status
//     and a short text body instead of the file. Other non-zero values,
//     except 200, are answered 500.
//   - Stall: the headers (200, Content-Length of the whole file) are sent,
//     then nothing until the client gives up or the server closes.
//   - Rate, Truncate and Corrupt combine. Rate paces the body in chunks of
//     min(16 KiB, Rate/10) bytes (at least 1), sleeping chunk/Rate after
//     each one on Config.Clock, so the rate is at most Rate. Truncate in
//     (0, 1) sends Content-Length of the whole file but only the first
//     int(len·Truncate) bytes, then aborts the connection: a Go client
//     reads io.ErrUnexpectedEOF. Corrupt flips exactly one byte of what is
//     sent (of the prefix when truncated) with a non-zero XOR mask.
//
// Determinism. The corrupted byte is CorruptAt(Config.Seed, path, n,
// size): a pure function of the server's seed, the path, n (0 for the
// first corrupted answer for that path on this server, 1 for the next…)
// and the number of bytes sent. Two servers with the same seed given the
// same sequence of corrupt requests for a path flip the same bytes.
// Nothing else depends on randomness (SelfSigned's keys excepted).
//
// # Goroutines
//
// Start starts one goroutine, the accept loop (http.Server.Serve), and
// net/http starts one goroutine per connection, on which handlers, the
// Faults function and Clock.Sleep run. Close owns their end: it cancels
// every request's context (which ends stalled and paced transfers at
// once), cuts the connections that have not sent a request yet, lets the
// other transfers finish for Config.Grace (http.Server.Shutdown), closes
// what is left (http.Server.Close), and returns only after the accept
// loop, every handler and every connection goroutine have ended. No
// goroutine of the package outlives Close.
// Add, Remove, URL and Stats may be called from any goroutine.
package fileserver
