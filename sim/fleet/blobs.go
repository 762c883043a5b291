package fleet

import (
	"crypto/sha256"
	"sync"

	"brickyard/flash"
)

// Blobs is a device.BlobSource shared by a fleet: devices that install the
// same image bytes get the same flash.Blob, so a campaign holds each image
// once however many devices install it. It keeps the most recent images
// only (a campaign has a handful); it is safe for concurrent use.
type Blobs struct {
	mu    sync.Mutex
	max   int
	order []blobKey
	byKey map[blobKey]*flash.Blob
}

type blobKey struct {
	sum [sha256.Size]byte
	pad byte
}

// NewBlobs returns a cache of at most n images (at least 1).
func NewBlobs(n int) *Blobs {
	return &Blobs{max: max(1, n), byKey: map[blobKey]*flash.Blob{}}
}

// Blob implements device.BlobSource.
func (c *Blobs) Blob(data []byte, pad byte) *flash.Blob {
	k := blobKey{sha256.Sum256(data), pad}
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.byKey[k]; ok {
		return b
	}
	b := flash.NewBlob(data, pad)
	c.byKey[k] = b
	c.order = append(c.order, k)
	if len(c.order) > c.max {
		delete(c.byKey, c.order[0])
		c.order = c.order[1:]
	}
	return b
}
