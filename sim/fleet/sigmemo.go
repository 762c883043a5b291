package fleet

import (
	"crypto/sha256"
	"sync"

	"brickyard/boards/image"
)

// NewSignatureMemo is a memo of verified signatures for the Keyring the
// devices of a fleet share (image.Keyring.UseMemo), safe for the devices'
// goroutines, holding at most size IDs: when full it starts over, which
// costs a verification again, never a wrong answer.
func NewSignatureMemo(size int) image.SignatureMemo {
	return &sigMemo{size: max(size, 1), ok: map[[sha256.Size]byte]struct{}{}}
}

type sigMemo struct {
	mu   sync.Mutex
	size int
	ok   map[[sha256.Size]byte]struct{}
}

func (m *sigMemo) Verified(id [sha256.Size]byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.ok[id]
	return ok
}

func (m *sigMemo) Remember(id [sha256.Size]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.ok) >= m.size {
		clear(m.ok)
	}
	m.ok[id] = struct{}{}
}
