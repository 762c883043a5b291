package metrics

import (
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// cacheLimit bounds the lookup cache of a capped vector: keys beyond it
// (only a caller sending garbage gets there) take the locked path.
const cacheLimit = 1024

// capped is a counter vector with one capped label. Its lookups are a
// lock-free read of a copy-on-write map from the caller's key to the child
// counter; a miss takes the mutex, admits the key's label value while
// fewer than LabelLimit are admitted (else maps it to Other), and adds the
// key to the map.
type capped[K comparable] struct {
	vec    *prometheus.CounterVec
	value  func(K) string           // the capped label's value of a key
	labels func(K, string) []string // every label value, given the capped one
	own    func(K) K                // a copy of a key that shares no memory with the caller's
	cache  atomic.Pointer[map[K]prometheus.Counter]

	mu   sync.Mutex
	seen map[string]bool // admitted values of the capped label
}

func newCapped[K comparable](vec *prometheus.CounterVec, value func(K) string, labels func(K, string) []string, own func(K) K) *capped[K] {
	c := &capped[K]{vec: vec, value: value, labels: labels, own: own, seen: map[string]bool{}}
	c.cache.Store(&map[K]prometheus.Counter{})
	return c
}

// get returns the child counter of k.
func (c *capped[K]) get(k K) prometheus.Counter {
	if ctr, ok := (*c.cache.Load())[k]; ok {
		return ctr
	}
	return c.miss(k)
}

func (c *capped[K]) miss(k K) prometheus.Counter {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.cache.Load()
	if ctr, ok := old[k]; ok {
		return ctr
	}
	v := c.value(k)
	if !c.seen[v] {
		if len(c.seen) < LabelLimit {
			c.seen[v] = true
		} else {
			v = Other
		}
	}
	ctr := c.vec.WithLabelValues(c.labels(k, v)...)
	if len(old) >= cacheLimit {
		return ctr
	}
	next := make(map[K]prometheus.Counter, len(old)+1)
	for key, val := range old {
		next[key] = val
	}
	next[c.own(k)] = ctr
	c.cache.Store(&next)
	return ctr
}

// labelValue makes s a safe label value: valid UTF-8, at most MaxLabelLen
// bytes, "unknown" when empty. A value it changes shares no memory with s.
func labelValue(s string) string {
	if s == "" {
		return "unknown"
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) > MaxLabelLen {
		cut := MaxLabelLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = strings.Clone(s[:cut])
	}
	return s
}
