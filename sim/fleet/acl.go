package fleet

import (
	"sync"

	"brickyard/usp/dm"
)

// acls is a fleet's dm.ACLCache: the devices of one run whose roles are
// equal (as factory roles are) share one compiled ACL. Safe for
// concurrent use (a real-time fleet's devices run on goroutines of their
// own); it holds at most maxACLs sets of roles, past which it compiles
// without keeping.
type acls struct {
	mu sync.Mutex
	m  map[string]*dm.ACL
}

const maxACLs = 256

func newACLs() *acls { return &acls{m: map[string]*dm.ACL{}} }

func (c *acls) ACL(key string, build func() *dm.ACL) *dm.ACL {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.m[key]; a != nil {
		return a
	}
	a := build()
	if len(c.m) < maxACLs {
		c.m[key] = a
	}
	return a
}
