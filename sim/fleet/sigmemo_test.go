package fleet

import (
	"crypto/sha256"
	"sync"
	"testing"
)

// The fleet's signature memo remembers what it is told, bounded, from
// many goroutines at once.
func TestSignatureMemo(t *testing.T) {
	m := NewSignatureMemo(8)
	a, b := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
	if m.Verified(a) {
		t.Fatal("remembered what it was never told")
	}
	m.Remember(a)
	if !m.Verified(a) || m.Verified(b) {
		t.Fatal("a told, b not")
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				id := sha256.Sum256([]byte{byte(g), byte(i)})
				m.Remember(id)
				m.Verified(id)
			}
		}()
	}
	wg.Wait()
	if n := len(m.(*sigMemo).ok); n > 8 {
		t.Errorf("holds %d, more than its 8", n)
	}
}
