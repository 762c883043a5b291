package fileserver

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkServe4MiB measures a GET of a 4 MiB image over loopback (plain
// HTTP, keep-alive, no faults).
func BenchmarkServe4MiB(b *testing.B) {
	data := image(4 << 20)
	s := start(b, Config{}, data)
	tr := &http.Transport{}
	b.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}
	url := s.URL() + imgPath
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != int64(len(data)) {
			b.Fatalf("%d bytes, %v", n, err)
		}
	}
}
