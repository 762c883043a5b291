package fleet

import (
	"fmt"
	"testing"
)

func TestBlobs_SharesEqualImagesAndEvicts(t *testing.T) {
	c := NewBlobs(2)
	a := c.Blob([]byte("image v2"), 0xFF)
	if c.Blob([]byte("image v2"), 0xFF) != a {
		t.Fatal("equal bytes gave two blobs")
	}
	if c.Blob([]byte("image v2"), 0x00) == a {
		t.Fatal("a different padding shared a blob")
	}
	for i := range 3 {
		c.Blob(fmt.Appendf(nil, "other %d", i), 0xFF)
	}
	if len(c.byKey) != 2 || len(c.order) != 2 {
		t.Fatalf("cache holds %d/%d", len(c.byKey), len(c.order))
	}
	if c.Blob([]byte("image v2"), 0xFF) == a {
		t.Fatal("an evicted image came back as the same blob")
	}
}
