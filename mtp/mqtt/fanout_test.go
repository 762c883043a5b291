package mqtt

import (
	"fmt"
	"sync"
	"testing"

	"brickyard/mtp"
)

// Fifty agents through one controller Listener: every Record reaches the
// Conn of its sender, and every answer reaches the right agent.
func TestFanout_50AgentsOneListener(t *testing.T) {
	const agents, rounds = 50, 4
	eachBroker(t, func(t *testing.T, b *broker, v Version) {
		c := config(b, v)
		l := listen(t, c)
		d, err := NewDialer(c)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 2*agents)
		// Controller: one goroutine per accepted Conn echoes "ack:<body>".
		wg.Add(1)
		go func() {
			defer wg.Done()
			var cw sync.WaitGroup
			defer cw.Wait()
			for range agents {
				conn, err := l.Accept(tctx(t))
				if err != nil {
					errs <- fmt.Errorf("accept: %w", err)
					return
				}
				cw.Add(1)
				go func() {
					defer cw.Done()
					defer conn.Close()
					errs <- serveAgent(t, conn, rounds)
				}()
			}
		}()
		for i := range agents {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- runAgent(t, d, fmt.Sprintf("proto::agent-%02d", i), rounds)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		waitStats(t, l, Stats{Sessions: agents, Records: agents * (rounds + 1)})
	})
}

func serveAgent(t testing.TB, conn mtp.Conn, rounds int) error {
	peer := conn.Info().Peer
	for i := 0; i <= rounds; i++ { // the mqtt_connect Record, then the rounds
		b, err := conn.Recv(tctx(t))
		if err != nil {
			return fmt.Errorf("controller recv from %s: %w", peer, err)
		}
		r := decode(t, b)
		if r.GetFromId() != peer {
			return fmt.Errorf("conn of %s got a record from %s", peer, r.GetFromId())
		}
		if i == 0 {
			continue
		}
		body := string(r.GetNoSessionContext().GetPayload())
		if want := fmt.Sprintf("%s#%d", peer, i); body != want {
			return fmt.Errorf("conn of %s got %q, want %q", peer, body, want)
		}
		if err := conn.Send(tctx(t), record(ctrlID, peer, "ack:"+body)); err != nil {
			return err
		}
	}
	return nil
}

func runAgent(t testing.TB, d mtp.Dialer, id string, rounds int) error {
	conn, err := d.Dial(tctx(t), id)
	if err != nil {
		return err
	}
	defer conn.Close()
	for i := 1; i <= rounds; i++ {
		body := fmt.Sprintf("%s#%d", id, i)
		if err := conn.Send(tctx(t), record(id, ctrlID, body)); err != nil {
			return err
		}
		b, err := conn.Recv(tctx(t))
		if err != nil {
			return fmt.Errorf("agent %s recv: %w", id, err)
		}
		if got := string(decode(t, b).GetNoSessionContext().GetPayload()); got != "ack:"+body {
			return fmt.Errorf("agent %s got %q, want %q", id, got, "ack:"+body)
		}
	}
	return nil
}
