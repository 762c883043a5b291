package fleet

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"brickyard/mtp"
	"brickyard/mtp/inproc"
	"brickyard/sim/device"
	"brickyard/sim/index"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// failFirst fails each agent's first Dial.
type failFirst struct {
	mtp.Dialer
	mu   sync.Mutex
	seen map[string]bool
}

func (f *failFirst) Dial(ctx context.Context, id string) (mtp.Conn, error) {
	f.mu.Lock()
	first := !f.seen[id]
	f.seen[id] = true
	f.mu.Unlock()
	if first {
		return nil, errors.New("refused")
	}
	return f.Dialer.Dial(ctx, id)
}

// The Observer sees each device's failed dial, its session, the Get the
// controller sent and the GetResp that answered it, and the session the
// network broke; IDOffset numbers the devices after the offset.
func TestRealObserver(t *testing.T) {
	const ctrl = "proto::controller"
	net := inproc.NewNetwork(1, inproc.Faults{}, 0)
	l, err := net.Listen(ctrl)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, s := factory(t, "uboot-nor")

	type link struct {
		id  string
		ev  LinkEvent
		err bool
	}
	var mu sync.Mutex
	var links []link
	records := map[string][]string{} // id → "in Get", "out GetResp"
	obs := Observer{
		Record: func(id string, in bool, rec []byte, _ time.Time) {
			codec := usp.Codec{LocalID: id}
			if !in {
				codec.LocalID = ctrl
			}
			m, err := codec.Open(rec)
			if err != nil {
				t.Errorf("%s: %v", id, err)
				return
			}
			dir := "out "
			if in {
				dir = "in "
			}
			mu.Lock()
			records[id] = append(records[id], dir+usp.TypeOf(m.Msg).String())
			mu.Unlock()
		},
		Link: func(id string, ev LinkEvent, err error, _ time.Time) {
			mu.Lock()
			links = append(links, link{id, ev, err != nil})
			mu.Unlock()
		},
	}
	idx, _ := index.New()
	r, err := NewReal(RealConfig{Seed: 1, ControllerID: ctrl, Schema: s, IDOffset: 40,
		Boards: []BoardGroup{{Name: "uboot-nor", Factory: f, Count: 2}},
		Dialer: &failFirst{Dialer: net.Dialer(ctrl), seen: map[string]bool{}}, Index: idx, Observe: obs,
		Device: func(_ int, c *device.Config) { c.Onboarded = true }}) // no OnBoardRequest: the records are the Get's
	if err != nil {
		t.Fatal(err)
	}
	if r.ID(0) != idOf(41) || r.ID(1) != idOf(42) {
		t.Fatalf("IDs %s, %s", r.ID(0), r.ID(1))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- r.Run(ctx) }()

	// A device whose dial failed retries after the retry wait (5–10 s)
	// and is "connecting" meanwhile.
	for idx.Count(index.ByConn, ConnConnecting) != 2 {
		if ctx.Err() != nil {
			t.Fatal("the devices never showed as connecting")
		}
		time.Sleep(5 * time.Millisecond)
	}
	codec := usp.Codec{LocalID: ctrl}
	for range 2 {
		conn, err := l.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		id := conn.Info().Peer
		get, err := codec.Seal(id, usp.NewRequest("g1", &pb.Get{ParamPaths: []string{"Device.DeviceInfo.SoftwareVersion"}}))
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Send(ctx, get); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Recv(ctx); err != nil {
			t.Fatal(err)
		}
	}
	net.Break(r.ID(1))
	want := []link{{r.ID(1), LinkFail, true}, {r.ID(1), LinkUp, false}, {r.ID(1), LinkDown, true}}
	for {
		mu.Lock()
		var got []link
		for _, x := range links {
			if x.id == r.ID(1) {
				got = append(got, x)
			}
		}
		mu.Unlock()
		if len(got) >= 3 {
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("links of %s: %v, want %v first", r.ID(1), got, want)
				}
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("links of %s: %v", r.ID(1), got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for n := range 2 {
		got := records[r.ID(n)]
		if len(got) != 2 || got[0] != "in GET" || got[1] != "out GET_RESP" {
			t.Errorf("%s: records %v", r.ID(n), got)
		}
	}
	if links[len(links)-1].ev != LinkDown {
		t.Errorf("links end with %v", links[len(links)-1])
	}
}
