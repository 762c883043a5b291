package image_test

import (
	"bytes"
	"testing"

	"brickyard/boards/image"
)

// BenchmarkVerify4MiB verifies a 4 MiB image in a partition through
// io.ReaderAt, as a board does after a download.
func BenchmarkVerify4MiB(b *testing.B) {
	priv := goldenKey()
	payload := make([]byte, 4<<20)
	for i := range payload {
		payload[i] = byte(i * 31)
	}
	img := mustPack(b, priv, goldenHeader(), payload)
	r := bytes.NewReader(img)
	keys := image.NewKeyring(pubOf(priv))
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := image.Verify(r, int64(len(img)), keys, goldenPolicy); err != nil {
			b.Fatal(err)
		}
	}
}
