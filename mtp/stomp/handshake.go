package stomp

import (
	"context"
	"crypto/tls"
	"fmt"
	"strconv"
	"strings"
	"time"

	gframe "github.com/go-stomp/stomp/v3/frame"

	"brickyard/mtp"
)

// dialSession connects and performs the STOMP handshake; start begins
// reading and writing.
func dialSession(ctx context.Context, cfg *Config, tc *tls.Config, localID string) (*session, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, connectTimeout)
		defer cancel()
	}
	nc, err := cfg.Sources.Dialer().DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("stomp: dial %s: %w: %w", cfg.Addr, mtp.ErrBroken, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	defer stop()
	if tc != nil {
		tlsc := tls.Client(nc, tc)
		if err := tlsc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("stomp: TLS to %s: %w: %w", cfg.Addr, mtp.ErrBroken, err)
		}
		nc = tlsc
	}
	s := &session{cfg: cfg, nc: nc, rd: newReader(nc, cfg.maxBody()), local: localID,
		out: make(chan *[]byte, cfg.queueLen()), quit: make(chan struct{}), done: make(chan struct{}),
		receipts: make(chan string, 1)}
	if err := s.handshake(); err != nil {
		_ = nc.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("stomp: connect to %s: %w: %w", cfg.Addr, mtp.ErrBroken, ctx.Err())
		}
		return nil, err
	}
	if !stop() { // ctx ended during the handshake; the deadline is spoiled
		_ = nc.Close()
		return nil, fmt.Errorf("stomp: connect to %s: %w: %w", cfg.Addr, mtp.ErrBroken, ctx.Err())
	}
	_ = nc.SetDeadline(time.Time{})
	return s, nil
}

// handshake sends STOMP and reads CONNECTED.
func (s *session) handshake() error {
	host := s.cfg.VirtualHost
	if host == "" {
		host = "/"
	}
	hdr := []string{gframe.AcceptVersion, "1.2", gframe.Host, host,
		gframe.HeartBeat, ms(s.cfg.HeartBeatOut) + "," + ms(s.cfg.HeartBeatIn),
		"endpoint-id", s.local}
	if s.cfg.Login != "" || s.cfg.Passcode != "" {
		hdr = append(hdr, gframe.Login, s.cfg.Login, gframe.Passcode, s.cfg.Passcode)
	}
	if _, err := s.nc.Write(appendFrame(nil, gframe.STOMP, hdr, nil)); err != nil {
		return fmt.Errorf("stomp: connect to %s: %w: %w", s.cfg.Addr, mtp.ErrBroken, err)
	}
	for {
		f, err := s.rd.read()
		if err != nil {
			return fmt.Errorf("stomp: connect to %s: %w: %w", s.cfg.Addr, mtp.ErrBroken, err)
		}
		if f == nil {
			continue // heart-beat
		}
		switch f.cmd {
		case gframe.CONNECTED:
		case gframe.ERROR:
			return fmt.Errorf("stomp: connect to %s: %w: %s", s.cfg.Addr, mtp.ErrBroken, errorText(f))
		default:
			return fmt.Errorf("stomp: connect to %s: %w: %s instead of CONNECTED", s.cfg.Addr, mtp.ErrBroken, f.cmd)
		}
		if v, _ := f.get(gframe.Version); v != "1.2" {
			return fmt.Errorf("stomp: broker %s speaks STOMP %q, not 1.2", s.cfg.Addr, v)
		}
		sx, sy, err := parseHeartBeat(f)
		if err != nil {
			return fmt.Errorf("stomp: broker %s: %w", s.cfg.Addr, err)
		}
		s.hbOut = negotiate(s.cfg.HeartBeatOut, sy)
		s.hbIn = negotiate(s.cfg.HeartBeatIn, sx)
		s.subDest, _ = f.get("subscribe-dest")
		s.server, _ = f.get(gframe.Server)
		return nil
	}
}

// parseHeartBeat reads CONNECTED's heart-beat "sx,sy" (absent: 0,0).
func parseHeartBeat(f *frame) (sx, sy time.Duration, err error) {
	v, ok := f.get(gframe.HeartBeat)
	if !ok {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(v, ",")
	x, err1 := strconv.ParseUint(a, 10, 31)
	y, err2 := strconv.ParseUint(b, 10, 31)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("bad heart-beat %q", v)
	}
	return time.Duration(x) * time.Millisecond, time.Duration(y) * time.Millisecond, nil
}

// negotiate is STOMP 1.2's rule for one direction: off if either side
// says 0, else the larger value.
func negotiate(mine, theirs time.Duration) time.Duration {
	if mine == 0 || theirs == 0 {
		return 0
	}
	return max(mine, theirs)
}

// ms formats d in whole milliseconds, rounding a fraction up.
func ms(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Millisecond-1)/time.Millisecond), 10)
}

func errorText(f *frame) string {
	msg, _ := f.get(gframe.Message)
	body := f.body
	if len(body) > 200 {
		body = body[:200]
	}
	return fmt.Sprintf("ERROR frame: %s: %s", msg, strings.TrimSpace(string(body)))
}
