package mqtt

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// FuzzReplyTo: the 3.1.1 reply-to suffix never panics, never yields an
// invalid topic, and gives back any topic that withReplyTo wrote (when it
// holds no literal "%2F", which the encoding cannot tell from "/").
func FuzzReplyTo(f *testing.F) {
	for _, s := range []string{"usp/controller/ctrl", "a", "usp/agents/os::00256D-1/reply-to=x", "%2F", "a/reply-to=b/reply-to=c", "ü/ß", ""} {
		f.Add("usp/agent/a1", s)
	}
	f.Fuzz(func(t *testing.T, base, reply string) {
		_, rt, ok := splitReplyTo(base) // arbitrary input
		if ok && !validTopic(rt) {
			t.Fatalf("splitReplyTo(%q) gave invalid topic %q", base, rt)
		}
		if !validTopic(base) || !validTopic(reply) || strings.Contains(strings.ToLower(reply), "%2f") {
			return
		}
		topic := withReplyTo(base, reply)
		gotBase, got, ok := splitReplyTo(topic)
		if !ok || got != reply || gotBase != base {
			t.Fatalf("withReplyTo(%q, %q) = %q splits into %q, %q, %v", base, reply, topic, gotBase, got, ok)
		}
	})
}

// FuzzDecode311: the 3.1.1 reader never panics on broker bytes; a PUBLISH
// it accepts re-encodes to a packet it decodes the same way.
func FuzzDecode311(f *testing.F) {
	f.Add(appendPublish(nil, "usp/agent/a1", 1, 1, []byte("rec")))
	f.Add(appendPublish(nil, "t", 0, 0, bytes.Repeat([]byte{7}, 300)))
	f.Add([]byte{0x20, 2, 0, 0, 0x90, 3, 0, 1, 1, 0x40, 2, 0, 1, 0xd0, 0})
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReader(bytes.NewReader(in))
		for range 16 {
			p, err := readPacket311(r, 256)
			if err != nil {
				return
			}
			if p.kind != pktPublish || p.oversize {
				continue
			}
			q, err := readPacket311(bufio.NewReader(bytes.NewReader(appendPublish(nil, p.topic, p.id, p.qos, p.payload))), 1<<20)
			if err != nil || q.topic != p.topic || q.id != p.id || q.qos != p.qos || !bytes.Equal(q.payload, p.payload) {
				t.Fatalf("PUBLISH %+v re-encoded decodes as %+v, %v", p, q, err)
			}
		}
	})
}

func TestTopics(t *testing.T) {
	for s, want := range map[string]bool{"usp/a": true, "": false, "a/+": false, "a/#": false, "a\x00": false, "\xff": false, "a b/ü": true} {
		if validTopic(s) != want {
			t.Errorf("validTopic(%q) = %v", s, !want)
		}
	}
	for s, want := range map[string]bool{"usp/a": true, "a/+/b": true, "a/#": true, "#": true, "a/#/b": false, "a+/b": false, "a/b#": false, "": false} {
		if validFilter(s) != want {
			t.Errorf("validFilter(%q) = %v", s, !want)
		}
	}
	if got := withReplyTo("usp/controller/c", "usp/agent/a:1"); got != "usp/controller/c/reply-to=usp%2Fagent%2Fa:1" {
		t.Errorf("withReplyTo = %q", got)
	}
	if b, rt, ok := splitReplyTo("usp/c/reply-to=usp%2fagent%2Fa"); !ok || b != "usp/c" || rt != "usp/agent/a" {
		t.Errorf("splitReplyTo = %q %q %v", b, rt, ok)
	}
	for _, s := range []string{"usp/c", "usp/c/reply-to=", "usp/c/reply-to=a+b"} {
		if _, rt, ok := splitReplyTo(s); ok {
			t.Errorf("splitReplyTo(%q) = %q", s, rt)
		}
	}
	for broker, want := range map[string]string{"tcp://h:1": "h:1", "h": "h:1883", "tls://h": "h:8883", "mqtts://[::1]": "[::1]:8883", "127.0.0.1:5": "127.0.0.1:5"} {
		_, addr, err := parseBroker(broker)
		if err != nil || addr != want {
			t.Errorf("parseBroker(%q) = %q, %v", broker, addr, err)
		}
	}
	if _, _, err := parseBroker("ws://h"); err == nil {
		t.Error("ws:// accepted")
	}
}
