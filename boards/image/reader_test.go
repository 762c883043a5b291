package image_test

import (
	"bytes"
	"errors"
	"testing"

	"brickyard/boards/image"
)

// recordingReader is a partition: it records every read and can fail one.
type recordingReader struct {
	data    []byte
	maxRead int
	maxEnd  int64
	reads   int
	failAt  int64 // a read covering this offset fails with errFlash; -1: never
}

var errFlash = errors.New("flash: power lost")

func (r *recordingReader) ReadAt(p []byte, off int64) (int, error) {
	r.reads++
	r.maxRead = max(r.maxRead, len(p))
	r.maxEnd = max(r.maxEnd, off+int64(len(p)))
	if r.failAt >= off && r.failAt < off+int64(len(p)) {
		return 0, errFlash
	}
	return bytes.NewReader(r.data).ReadAt(p, off)
}

func TestVerify_StreamsInBoundedChunks(t *testing.T) {
	priv := goldenKey()
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	img := mustPack(t, priv, goldenHeader(), payload)
	part := append(append([]byte(nil), img...), bytes.Repeat([]byte{0xFF}, 1<<20)...)
	r := &recordingReader{data: part, failAt: -1}
	if _, err := image.Verify(r, int64(len(part)), image.NewKeyring(pubOf(priv)), goldenPolicy); err != nil {
		t.Fatal(err)
	}
	if r.maxRead > 4<<10 { // the golden header is 64 bytes: payload chunks of 4 KiB
		t.Errorf("largest read %d bytes, want at most 4 KiB", r.maxRead)
	}
	if r.maxEnd != int64(len(img)) {
		t.Errorf("read up to %d, the image ends at %d", r.maxEnd, len(img))
	}
	if allocs := testing.AllocsPerRun(5, func() {
		image.Verify(r, int64(len(part)), image.NewKeyring(pubOf(priv)), goldenPolicy)
	}); allocs > 40 {
		t.Errorf("%v allocations per Verify", allocs)
	}
}

func TestVerify_ReadErrorsPassThrough(t *testing.T) {
	priv := goldenKey()
	img := mustPack(t, priv, goldenHeader(), goldenPayload())
	for _, at := range []int64{0, 64, int64(len(img) - 1)} {
		r := &recordingReader{data: img, failAt: at}
		_, err := image.Verify(r, int64(len(img)), image.NewKeyring(pubOf(priv)), goldenPolicy)
		if !errors.Is(err, errFlash) || len(only(err)) != 0 {
			t.Errorf("read failing at %d: %v; want the reader's error, no sentinel", at, err)
		}
	}
}

func TestVerify_ReaderShorterThanSize(t *testing.T) {
	priv := goldenKey()
	img := mustPack(t, priv, goldenHeader(), goldenPayload())
	for _, cut := range []int{0, 2, 64, 100, len(img) - 1} {
		_, err := image.Verify(bytes.NewReader(img[:cut]), int64(len(img)), image.NewKeyring(pubOf(priv)), goldenPolicy)
		if got := only(err); len(got) != 1 || got[0] != image.ErrTruncated {
			t.Errorf("reader cut at %d: %v; want ErrTruncated", cut, err)
		}
	}
	if _, err := image.Verify(bytes.NewReader(img), -1, nil, image.Policy{}); !errors.Is(err, image.ErrTruncated) {
		t.Errorf("negative size: %v", err)
	}
}
