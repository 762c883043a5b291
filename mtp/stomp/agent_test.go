package stomp

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gframe "github.com/go-stomp/stomp/v3/frame"

	"brickyard/mtp"
)

// TR-369 STOMP: the connect frame is STOMP with accept-version, host,
// login, passcode, heart-beat and endpoint-id, whose ':' travel as "\c";
// then SUBSCRIBE (ack:auto) and the stomp_connect SEND with content-type,
// content-length and reply-to-dest. The broker here decodes headers with
// go-stomp's reader.
func TestDial_Frames(t *testing.T) {
	noLeaks(t)
	const eid = "os::012345-SIM1"
	frames := make(chan [3]*gframe.Frame, 1)
	raw := make(chan string, 1)
	fb := newFakeBroker(t, func(fc *fakeConn) {
		c, s, m := fc.handshake("heart-beat", "0,0")
		frames <- [3]*gframe.Frame{c, s, m}
		raw <- fc.raw.String()
		fc.readFrame() // until the client goes
	})
	cfg := config(t, fb.addr())
	cfg.VirtualHost = "farm"
	cfg.HeartBeatOut, cfg.HeartBeatIn = 1500*time.Microsecond, 2*time.Second
	a := dial(t, cfg, eid)
	f := <-frames
	connect, sub, snd := f[0], f[1], f[2]
	if connect.Command != "STOMP" {
		t.Fatalf("connect frame is %s, not STOMP", connect.Command)
	}
	for k, want := range map[string]string{"accept-version": "1.2", "host": "farm", "login": "guest",
		"passcode": "guest", "heart-beat": "2,2000", "endpoint-id": eid} {
		if got := connect.Header.Get(k); got != want {
			t.Errorf("STOMP %s: %q, want %q", k, got, want)
		}
	}
	if r := <-raw; !strings.Contains(r, "\nendpoint-id:os\\c\\c012345-SIM1\n") {
		t.Errorf("endpoint-id not escaped on the wire:\n%q", r)
	}
	dest := Destination(cfg.AgentDest, eid)
	if sub.Command != "SUBSCRIBE" || sub.Header.Get("destination") != dest || sub.Header.Get("ack") != "auto" ||
		sub.Header.Get("id") == "" || sub.Header.Get("auto-delete") != "true" {
		t.Errorf("subscribe: %s %v", sub.Command, sub.Header)
	}
	if snd.Command != "SEND" || snd.Header.Get("destination") != cfg.ControllerDest ||
		snd.Header.Get("content-type") != "application/vnd.bbf.usp.msg" ||
		snd.Header.Get("reply-to-dest") != dest || snd.Header.Get("content-length") != strconv.Itoa(len(snd.Body)) {
		t.Errorf("send: %s %v", snd.Command, snd.Header)
	}
	_, _, rec := open(t, ctrlID, snd.Body)
	if rec.GetStompConnect().GetSubscribedDestination() != dest || rec.GetFromId() != eid {
		t.Errorf("stomp_connect %v", rec)
	}
	if a.Info().Destination != dest {
		t.Errorf("info %+v", a.Info())
	}
}

// CONNECTED's subscribe-dest replaces the configured destination.
func TestDial_SubscribeDest(t *testing.T) {
	noLeaks(t)
	subs := make(chan *gframe.Frame, 2)
	fb := newFakeBroker(t, func(fc *fakeConn) {
		_, s, m := fc.handshake("subscribe-dest", "/queue/from:server")
		subs <- s
		subs <- m
		fc.readFrame()
	})
	cfg := config(t, fb.addr())
	a := dial(t, cfg, "proto::agent")
	sub, snd := <-subs, <-subs
	if sub.Header.Get("destination") != "/queue/from:server" || snd.Header.Get("reply-to-dest") != "/queue/from:server" {
		t.Fatalf("subscribe %v, send %v", sub.Header, snd.Header)
	}
	if _, _, rec := open(t, ctrlID, snd.Body); rec.GetStompConnect().GetSubscribedDestination() != "/queue/from:server" {
		t.Fatalf("stomp_connect %v", rec)
	}
	if a.Info().Destination != "/queue/from:server" {
		t.Fatalf("info %+v", a.Info())
	}
}

// Neither AgentDest nor subscribe-dest: DISCONNECT, ErrBroken.
func TestDial_NoDestination(t *testing.T) {
	noLeaks(t)
	got := make(chan string, 1)
	fb := newFakeBroker(t, func(fc *fakeConn) {
		fc.readFrame()
		fc.write("CONNECTED", nil, "version", "1.2")
		if f := fc.readFrame(); f != nil {
			got <- f.Command
		} else {
			got <- "nothing"
		}
	})
	cfg := config(t, fb.addr())
	cfg.AgentDest = ""
	d, _ := NewDialer(cfg)
	_, err := d.Dial(ctx(t), "proto::agent")
	mustBreak(t, "dial", err)
	if c := <-got; c != "DISCONNECT" {
		t.Fatalf("broker saw %s", c)
	}
}

func TestDial_Refused(t *testing.T) {
	noLeaks(t)
	for name, script := range map[string]func(*fakeConn){
		"ERROR":     func(fc *fakeConn) { fc.readFrame(); fc.write("ERROR", []byte("go away"), "message", "denied") },
		"STOMP 1.1": func(fc *fakeConn) { fc.readFrame(); fc.write("CONNECTED", nil, "version", "1.1") },
		"bad beat":  func(fc *fakeConn) { fc.readFrame(); fc.write("CONNECTED", nil, "version", "1.2", "heart-beat", "x") },
		"hang up":   func(fc *fakeConn) { fc.readFrame() },
		"no RECEIPT": func(fc *fakeConn) {
			fc.readFrame()
			fc.write("CONNECTED", nil, "version", "1.2")
			fc.write("ERROR", nil)
		},
		"MESSAGE 1st": func(fc *fakeConn) { fc.readFrame(); fc.write("MESSAGE", nil) },
	} {
		t.Run(name, func(t *testing.T) {
			fb := newFakeBroker(t, script)
			d, _ := NewDialer(config(t, fb.addr()))
			_, err := d.Dial(ctx(t), "proto::agent")
			if err == nil {
				t.Fatal("dial succeeded")
			}
		})
	}
}

// After Dial, an ERROR frame, a malformed frame, an oversized body or
// heart-beat silence end the session with ErrBroken, never a panic.
func TestSession_Breaks(t *testing.T) {
	noLeaks(t)
	for name, tc := range map[string]struct {
		connected []string
		then      func(fc *fakeConn)
		want      string
	}{
		"ERROR frame":     {then: func(fc *fakeConn) { fc.write("ERROR", []byte("bye"), "message", "kicked") }, want: "kicked"},
		"unknown command": {then: func(fc *fakeConn) { _, _ = fc.nc.Write([]byte("BOGUS\n\n\x00")) }, want: "unknown command"},
		"bad escape":      {then: func(fc *fakeConn) { _, _ = fc.nc.Write([]byte("MESSAGE\nx:a\\tb\n\n\x00")) }, want: "escape"},
		"huge length": {then: func(fc *fakeConn) {
			_, _ = fc.nc.Write([]byte("MESSAGE\nsubscription:0\ncontent-length:40000000000\n\n"))
		}, want: "content-length"},
		"length not a number": {then: func(fc *fakeConn) {
			_, _ = fc.nc.Write([]byte("MESSAGE\nsubscription:0\ncontent-length:12x\n\n"))
		}, want: "content-length"},
		"long line": {then: func(fc *fakeConn) { _, _ = fc.nc.Write([]byte("MESSAGE\nx:" + strings.Repeat("y", 5000))) }, want: "line longer"},
		"silence":   {connected: []string{"heart-beat", "50,0"}, then: func(fc *fakeConn) {}, want: "heart-beat"},
		"hang up":   {then: func(fc *fakeConn) { _ = fc.nc.Close() }, want: "EOF"},
		"no NUL":    {then: func(fc *fakeConn) { _, _ = fc.nc.Write([]byte("MESSAGE\ncontent-length:1\n\nxy")) }, want: "NUL"},
		"no colon":  {then: func(fc *fakeConn) { _, _ = fc.nc.Write([]byte("MESSAGE\nnocolon\n\n\x00")) }, want: "header line"},
	} {
		t.Run(name, func(t *testing.T) {
			// The broker breaks the session only once Dial has returned:
			// bytes written right after the RECEIPT may reach the agent
			// while Dial is still under way, and then it is Dial that
			// fails (which is right, but not what this test is about).
			dialed := make(chan struct{})
			fb := newFakeBroker(t, func(fc *fakeConn) {
				fc.handshake(tc.connected...)
				<-dialed
				tc.then(fc)
				fc.readFrame()
			})
			var once sync.Once
			release := func() { once.Do(func() { close(dialed) }) }
			t.Cleanup(release) // before the broker's cleanup waits for the script
			cfg := config(t, fb.addr())
			cfg.HeartBeatIn = 50 * time.Millisecond
			a := dial(t, cfg, "proto::agent")
			release()
			_, err := a.Recv(ctx(t))
			mustBreak(t, "recv", err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// The broker keeps heart-beats off when the agent offers 0,0, whatever it
// would like itself; and a broker silence is then no failure.
func TestHeartBeats_ZeroWins(t *testing.T) {
	noLeaks(t)
	fb := newFakeBroker(t, func(fc *fakeConn) {
		fc.handshake("heart-beat", "20,20")
		time.Sleep(300 * time.Millisecond)
		fc.write("MESSAGE", record(t, ctrlID, "proto::agent", "late"), "subscription", "0", "reply-to-dest", "/queue/x")
		fc.readFrame()
	})
	a := dial(t, config(t, fb.addr()), "proto::agent")
	if s := a.(*agentConn).s; s.hbOut != 0 || s.hbIn != 0 {
		t.Fatalf("negotiated %v/%v", s.hbOut, s.hbIn)
	}
	if _, id, _ := open(t, "proto::agent", recv(t, a)); id != "late" {
		t.Fatal(id)
	}
}

// A MESSAGE of another subscription is not a Record of this session.
func TestAgent_IgnoresOtherSubscriptions(t *testing.T) {
	noLeaks(t)
	fb := newFakeBroker(t, func(fc *fakeConn) {
		fc.handshake()
		fc.write("MESSAGE", []byte("other"), "subscription", "7")
		fc.write("MESSAGE", []byte("mine"), "subscription", "0")
		fc.readFrame()
	})
	a := dial(t, config(t, fb.addr()), "proto::agent")
	if got := recv(t, a); string(got) != "mine" {
		t.Fatalf("got %q", got)
	}
}

// A MESSAGE body over MaxRecordSize, with or without content-length, is
// read past without being kept, counted as a too-large drop, and the
// session goes on: the next Record arrives.
func TestAgent_OversizeBodyDropped(t *testing.T) {
	noLeaks(t)
	for name, big := range map[string][]byte{
		"content-length": append(append([]byte("MESSAGE\nsubscription:0\ncontent-length:300000\n\n"), bytes.Repeat([]byte("x"), 300000)...), 0),
		"to the NUL":     append(append([]byte("MESSAGE\nsubscription:0\n\n"), bytes.Repeat([]byte("x"), 300<<10)...), 0),
	} {
		t.Run(name, func(t *testing.T) {
			fb := newFakeBroker(t, func(fc *fakeConn) {
				fc.handshake()
				_, _ = fc.nc.Write(big)
				fc.write("MESSAGE", []byte("after"), "subscription", "0")
				fc.readFrame()
			})
			cfg := config(t, fb.addr())
			drops := &mtp.Drops{}
			cfg.Drops = drops
			a := dial(t, cfg, "proto::agent")
			if got := recv(t, a); string(got) != "after" {
				t.Fatalf("got %q", got)
			}
			if n := drops.Count(mtp.DropTooLarge); n != 1 || drops.Total() != 1 {
				t.Fatalf("drops %v", drops.Counts())
			}
		})
	}
}
