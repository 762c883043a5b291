package stomp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	gframe "github.com/go-stomp/stomp/v3/frame"
)

// The wire format of STOMP 1.2, written and read here rather than by
// go-stomp's frame.Reader, which trusts content-length (it allocates up to
// 4 GiB for one frame) and reads header lines and NUL-terminated bodies
// without bound. The rules:
//
//   - A frame is a command line, header lines "name:value", a blank line,
//     the body and a NUL. Lines end in LF or CRLF. A blank line where a
//     command is expected is a heart-beat.
//   - Header names and values escape '\' as `\\`, CR as `\r`, LF as `\n`
//     and ':' as `\c`, in every frame but CONNECT and CONNECTED. Reading,
//     any other backslash sequence is a protocol error. CONNECTED is read
//     leniently: the known escapes are decoded (go-stomp's server escapes
//     it) and anything else is kept as it is.
//   - When a name repeats, the first occurrence wins.
//   - content-length, when present, is the exact body length; without it
//     the body runs to the first NUL. A body over the reader's limit is
//     read past without being kept (the frame comes back with oversize set
//     and no body), so the session survives it and the receiver counts it;
//     a content-length that is not a number, or above maxSkip, is a
//     malformed frame.
//   - Limits: a header line fits in readBufSize bytes, a frame has at most
//     maxHeaders headers. Anything beyond is a malformed frame, never a
//     panic or an unbounded allocation.

const (
	readBufSize = 4096 // also the longest command or header line
	maxHeaders  = 64
	// bodySlack is what a Record's frame may carry beyond the Record limit.
	bodySlack = 1024
	// maxSkip is the longest body read past; longer is malformed.
	maxSkip = 1 << 32
)

var errMalformed = errors.New("stomp: malformed frame")

// frame is one STOMP frame; hdr holds names and values, alternating.
type frame struct {
	cmd      string
	hdr      []string
	body     []byte
	oversize int64 // a body over the limit was read past: its length; body is nil
}

// get returns the first value of the header name.
func (f *frame) get(name string) (string, bool) {
	for i := 0; i+1 < len(f.hdr); i += 2 {
		if f.hdr[i] == name {
			return f.hdr[i+1], true
		}
	}
	return "", false
}

// appendEscaped appends s with STOMP 1.2 header escaping.
func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\n':
			dst = append(dst, '\\', 'n')
		case ':':
			dst = append(dst, '\\', 'c')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// unescape decodes a header name or value. strict refuses undefined
// escapes and a trailing backslash; otherwise they are kept as they are.
func unescape(b []byte, strict bool) (string, error) {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b), nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			out = append(out, b[i])
			continue
		}
		if i+1 < len(b) {
			switch b[i+1] {
			case '\\':
				out = append(out, '\\')
				i++
				continue
			case 'r':
				out = append(out, '\r')
				i++
				continue
			case 'n':
				out = append(out, '\n')
				i++
				continue
			case 'c':
				out = append(out, ':')
				i++
				continue
			}
		}
		if strict {
			return "", fmt.Errorf("%w: undefined escape in header %q", errMalformed, b)
		}
		out = append(out, '\\')
	}
	return string(out), nil
}

// knownName returns the header names brickyard reads or brokers send
// often as constants, saving an allocation per header.
func knownName(b []byte) (string, bool) {
	switch string(b) {
	case "destination":
		return "destination", true
	case "subscription":
		return "subscription", true
	case "message-id":
		return "message-id", true
	case "content-type":
		return "content-type", true
	case "content-length":
		return "content-length", true
	case "reply-to-dest":
		return "reply-to-dest", true
	case "receipt-id":
		return "receipt-id", true
	case "message":
		return "message", true
	case "redelivered":
		return "redelivered", true
	case "ack":
		return "ack", true
	case "durable":
		return "durable", true
	case "auto-delete":
		return "auto-delete", true
	case "exclusive":
		return "exclusive", true
	case "id":
		return "id", true
	}
	return "", false
}

// knownValue does the same for frequent values.
func knownValue(b []byte) (string, bool) {
	switch string(b) {
	case "0":
		return "0", true
	case "true":
		return "true", true
	case "false":
		return "false", true
	case contentType:
		return contentType, true
	}
	return "", false
}

// appendFrame appends one encoded frame. hdr alternates names and values;
// both are escaped, so it must not be used for CONNECT frames (brickyard
// sends STOMP, whose headers are escaped). It writes no content-length:
// callers that send a body add it.
func appendFrame(dst []byte, cmd string, hdr []string, body []byte) []byte {
	dst = append(dst, cmd...)
	dst = append(dst, '\n')
	for i := 0; i+1 < len(hdr); i += 2 {
		dst = appendEscaped(dst, hdr[i])
		dst = append(dst, ':')
		dst = appendEscaped(dst, hdr[i+1])
		dst = append(dst, '\n')
	}
	dst = append(dst, '\n')
	dst = append(dst, body...)
	return append(dst, 0)
}

// reader reads frames from a broker connection.
type reader struct {
	br      *bufio.Reader
	maxBody int
}

func newReader(r io.Reader, maxBody int) *reader {
	return &reader{br: bufio.NewReaderSize(r, readBufSize), maxBody: maxBody}
}

// line returns the next line without its LF or CRLF; the slice is valid
// until the next read.
func (r *reader) line() ([]byte, error) {
	b, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, fmt.Errorf("%w: line longer than %d bytes", errMalformed, readBufSize)
	}
	if err != nil {
		return nil, err
	}
	b = b[:len(b)-1]
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b, nil
}

// read returns the next frame, or nil for a heart-beat.
func (r *reader) read() (*frame, error) {
	cmdLine, err := r.line()
	if err != nil {
		return nil, err
	}
	if len(cmdLine) == 0 {
		return nil, nil
	}
	f := &frame{hdr: make([]string, 0, 24)}
	switch string(cmdLine) { // known commands only; no allocation
	case gframe.CONNECTED:
		f.cmd = gframe.CONNECTED
	case gframe.MESSAGE:
		f.cmd = gframe.MESSAGE
	case gframe.RECEIPT:
		f.cmd = gframe.RECEIPT
	case gframe.ERROR:
		f.cmd = gframe.ERROR
	case gframe.CONNECT, gframe.STOMP, gframe.SEND, gframe.SUBSCRIBE, gframe.UNSUBSCRIBE,
		gframe.ACK, gframe.NACK, gframe.BEGIN, gframe.COMMIT, gframe.ABORT, gframe.DISCONNECT:
		f.cmd = string(cmdLine)
	default:
		return nil, fmt.Errorf("%w: unknown command %.40q", errMalformed, cmdLine)
	}
	strict := f.cmd != gframe.CONNECTED && f.cmd != gframe.CONNECT
	for {
		l, err := r.line()
		if err != nil {
			return nil, err
		}
		if len(l) == 0 {
			break
		}
		if len(f.hdr) >= 2*maxHeaders {
			return nil, fmt.Errorf("%w: more than %d headers", errMalformed, maxHeaders)
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 {
			return nil, fmt.Errorf("%w: header line %.40q", errMalformed, l)
		}
		name, ok := knownName(l[:colon])
		if !ok {
			if name, err = unescape(l[:colon], strict); err != nil {
				return nil, err
			}
		}
		value, ok := knownValue(l[colon+1:])
		if !ok {
			if value, err = unescape(l[colon+1:], strict); err != nil {
				return nil, err
			}
		}
		f.hdr = append(f.hdr, name, value)
	}
	if cl, ok := f.get(gframe.ContentLength); ok {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 || n > maxSkip {
			return nil, fmt.Errorf("%w: content-length %.20q", errMalformed, cl)
		}
		if n > int64(r.maxBody) {
			if _, err := io.CopyN(io.Discard, r.br, n); err != nil {
				return nil, err
			}
			f.oversize = n
		} else {
			f.body = make([]byte, n)
			if _, err := io.ReadFull(r.br, f.body); err != nil {
				return nil, err
			}
		}
		if nul, err := r.br.ReadByte(); err != nil {
			return nil, err
		} else if nul != 0 {
			return nil, fmt.Errorf("%w: no NUL after %d body bytes", errMalformed, n)
		}
		return f, nil
	}
	for {
		chunk, err := r.br.ReadSlice(0)
		if err != nil && err != bufio.ErrBufferFull {
			return nil, err
		}
		switch {
		case f.oversize > 0 || len(f.body)+len(chunk) > r.maxBody+1:
			// Over the limit: count the bytes, keep none.
			f.oversize += int64(len(f.body)) + int64(len(chunk))
			f.body = nil
			if f.oversize > maxSkip {
				return nil, fmt.Errorf("%w: body without content-length longer than %d bytes", errMalformed, int64(maxSkip))
			}
		default:
			f.body = append(f.body, chunk...)
		}
		if err == nil {
			if f.oversize > 0 {
				f.oversize-- // the NUL
				return f, nil
			}
			f.body = f.body[:len(f.body)-1] // the NUL
			return f, nil
		}
	}
}
