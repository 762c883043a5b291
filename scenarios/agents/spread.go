package agents

import (
	"context"
	"fmt"
	"hash/fnv"

	"brickyard/mtp"
)

// maxBrokers bounds --mqtt's list of brokers.
const maxBrokers = 256

// spreadDialer spreads the agents over several brokers (--mqtt A,B,…):
// an agent always dials the same one, chosen by a hash of its endpoint
// ID, so that it comes back to the broker it left, whichever shard or
// worker runs it, and the brokers share the fleet about evenly (100,000
// agents over 7 brokers: about 14,300 each, within a few hundred). The
// controller subscribes on every broker.
type spreadDialer struct {
	ds []mtp.Dialer
}

func newSpreadDialer(brokers []string, dial func(broker string) (mtp.Dialer, error)) (*spreadDialer, error) {
	s := &spreadDialer{}
	for _, b := range brokers {
		d, err := dial(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b, err)
		}
		s.ds = append(s.ds, d)
	}
	return s, nil
}

// pick is the broker of the agent endpointID.
func (s *spreadDialer) pick(endpointID string) int {
	h := fnv.New32a()
	h.Write([]byte(endpointID))
	return int(h.Sum32() % uint32(len(s.ds)))
}

func (s *spreadDialer) Dial(ctx context.Context, endpointID string) (mtp.Conn, error) {
	return s.ds[s.pick(endpointID)].Dial(ctx, endpointID)
}
