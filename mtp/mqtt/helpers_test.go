package mqtt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"brickyard/mtp"
	"brickyard/mtp/mtptest"
	"brickyard/usp/usprecord"
)

const ctrlID = "proto::ctrl"

// broker is a running broker a test can stop and start again on the same
// address.
type broker struct {
	url         string
	stop, start func()
}

func startMochi(t testing.TB) *broker {
	t.Helper()
	b, err := NewEmbeddedBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return runMochi(t, b)
}

func runMochi(t testing.TB, b *EmbeddedBroker) *broker {
	t.Helper()
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Stop() })
	return &broker{url: b.URL(), stop: func() { _ = b.Stop() }, start: func() {
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
	}}
}

func startMosquitto(t testing.TB) *broker {
	t.Helper()
	m := mtptest.NewMosquitto(t)
	return &broker{url: "tcp://" + m.Addr, stop: m.Stop, start: m.Start}
}

var brokers = []struct {
	name  string
	start func(testing.TB) *broker
}{{"mochi", startMochi}, {"mosquitto", startMosquitto}}

var versions = []Version{V5, V311}

// eachBroker runs f for every broker and MQTT version, each on a fresh
// broker, with a goroutine-leak check.
func eachBroker(t *testing.T, f func(t *testing.T, b *broker, v Version)) {
	for _, bk := range brokers {
		for _, v := range versions {
			t.Run(bk.name+"/v"+v.String(), func(t *testing.T) {
				checkGoroutines(t)
				f(t, bk.start(t), v)
			})
		}
	}
}

func config(b *broker, v Version) Config {
	return Config{Broker: b.url, Version: v, ControllerID: ctrlID, DialTimeout: 5 * time.Second, Handover: NewHandover()}
}

func listen(t testing.TB, c Config) *Listener {
	t.Helper()
	l, err := NewListener(c)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l.(*Listener)
}

func dial(t testing.TB, c Config, agentID string) mtp.Conn {
	t.Helper()
	d, err := NewDialer(c)
	if err != nil {
		t.Fatal(err)
	}
	return mtptest.Dial(t, d, agentID)
}

func accept(t testing.TB, l mtp.Listener) mtp.Conn { return mtptest.Accept(t, l) }

// tctx bounds one step of a test.
func tctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// record is a no_session_context Record whose payload is body (the
// transport never reads it).
func record(from, to, body string) []byte {
	b, err := proto.Marshal(&usprecord.Record{Version: "1.4", FromId: from, ToId: to,
		RecordType: &usprecord.Record_NoSessionContext{NoSessionContext: &usprecord.NoSessionContextRecord{Payload: []byte(body)}}})
	if err != nil {
		panic(err)
	}
	return b
}

func decode(t testing.TB, b []byte) *usprecord.Record {
	t.Helper()
	r := new(usprecord.Record)
	if err := proto.Unmarshal(b, r); err != nil {
		t.Fatalf("not a record: %v", err)
	}
	return r
}

// recvBody receives one Record and returns its payload as text.
func recvBody(t testing.TB, c mtp.Conn) string {
	t.Helper()
	b, err := c.Recv(tctx(t))
	if err != nil {
		t.Fatalf("%s recv: %v", c.Info().Local, err)
	}
	return string(decode(t, b).GetNoSessionContext().GetPayload())
}

func send(t testing.TB, c mtp.Conn, body string) {
	t.Helper()
	info := c.Info()
	if err := c.Send(tctx(t), record(info.Local, info.Peer, body)); err != nil {
		t.Fatalf("%s send: %v", info.Local, err)
	}
}

// expectConnect receives the agent's first Record and checks it is its
// mqtt_connect with topic and version.
func expectConnect(t testing.TB, c mtp.Conn, agentID, topic string, v Version) {
	t.Helper()
	b, err := c.Recv(tctx(t))
	if err != nil {
		t.Fatalf("recv connect record: %v", err)
	}
	r := decode(t, b)
	mc := r.GetMqttConnect()
	wantV := usprecord.MQTTConnectRecord_V3_1_1
	if v == V5 {
		wantV = usprecord.MQTTConnectRecord_V5
	}
	if mc == nil || r.GetFromId() != agentID || r.GetToId() != ctrlID || mc.GetSubscribedTopic() != topic || mc.GetVersion() != wantV {
		t.Fatalf("first record = %v, want mqtt_connect{%v, %q} from %s", r, wantV, topic, agentID)
	}
}

// waitStats waits until the Listener's counters are want: dispatch counts
// a Record just after queueing it.
func waitStats(t testing.TB, l *Listener, want Stats) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); l.Stats() != want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v, want %+v", l.Stats(), want)
		}
	}
}

func wantBroken(t testing.TB, what string, err error) {
	t.Helper()
	if !errors.Is(err, mtp.ErrBroken) {
		t.Fatalf("%s: %v, want ErrBroken", what, err)
	}
}

// rawLink connects a bare broker client for tests that publish by hand.
func rawLink(t testing.TB, b *broker, v Version, id string, onMessage func(message)) link {
	t.Helper()
	s, err := config(b, v).settings()
	if err != nil {
		t.Fatal(err)
	}
	if onMessage == nil {
		onMessage = func(message) {}
	}
	ctx := tctx(t)
	nc, err := dialBroker(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := connect(ctx, v, nc, linkParams{clientID: id, keepAlive: 30, qos: 1, endpointID: id,
		receiveMax: 16, maxPacket: 1 << 20, onMessage: onMessage})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.close)
	return l
}

// checkGoroutines fails the test if goroutines of this package, paho or
// mochi are still running 5 s after its other cleanups.
func checkGoroutines(t *testing.T) {
	t.Cleanup(func() {
		var left []string
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			left = ours()
			if len(left) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(left) > 0 {
			t.Errorf("%d goroutines leaked:\n%s", len(left), strings.Join(left, "\n\n"))
		}
	})
}

func ours() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var left []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 { // the calling goroutine
			continue
		}
		for _, pkg := range []string{"brickyard/mtp/mqtt.", "eclipse/paho.golang", "mochi-mqtt/server"} {
			if strings.Contains(g, pkg) && !strings.Contains(g, "testing.tRunner") {
				left = append(left, g)
				break
			}
		}
	}
	return left
}

func TestMain(m *testing.M) {
	code := m.Run()
	mtptest.StopRabbitMQ()
	if left := ours(); len(left) > 0 && code == 0 {
		time.Sleep(2 * time.Second)
		if left = ours(); len(left) > 0 {
			fmt.Printf("goroutines leaked after all tests:\n%s\n", strings.Join(left, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}
