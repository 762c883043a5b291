package bench_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"brickyard/boards/bench"
	"brickyard/boards/profile"
)

// linkRate programs n KiB into erased sectors of the board over its link,
// 4 KiB operations, and returns the payload rate in bytes per second.
func linkRate(tb testing.TB, h *bench.Board, at, n int) float64 {
	b := h.Board()
	data := make([]byte, 4096)
	for i := range data {
		data[i] = byte(i * 13)
	}
	start := time.Now()
	for off := 0; off < n<<10; off += 4096 {
		if err := b.Chip.Program(at+off, data); err != nil {
			tb.Fatal(err)
		}
	}
	return float64(n<<10) / time.Since(start).Seconds()
}

// imageTime writes a 256 KiB image into slot B of a uboot-nor board (every
// sector of the 3 MiB slot erased, the image programmed) and returns how
// long it took.
func imageTime(tb testing.TB, h *bench.Board, p profile.Profile) time.Duration {
	b := h.Board()
	upd := img(tb, p, "2.0.0", 256<<10-160)
	start := time.Now()
	if err := b.Loader.Write(b, "B", upd); err != nil {
		tb.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkLink measures the link at 115200 and 921600 baud, on the
// pseudo-terminal and through ser2net: payload bytes per second of 4 KiB
// program operations (line-% is that of the line's 8N1 rate, baud/10
// bytes per second), and the time for a 256 KiB image to reach a
// uboot-nor board's slot (image-s). board-emu paces both directions as a
// UART does.
func BenchmarkLink(b *testing.B) {
	p := getProfile(b, "uboot-nor")
	for _, via := range []string{"pty", "ser2net"} {
		for _, baud := range []int{115200, 921600} {
			b.Run(fmt.Sprintf("%s/%d", via, baud), func(b *testing.B) {
				r := newRig(b, p, rigOpts{baud: baud, noPower: true, noHost: via == "ser2net"})
				h := r.host
				if via == "ser2net" {
					addr := ser2net(b, r.pty.SlavePath, baud)
					var err error
					if h, err = bench.Open(context.Background(), bench.Config{Port: addr, Baud: baud, Profile: &p, Keys: keyring()}); err != nil {
						b.Fatal(err)
					}
					defer h.Close()
				}
				var rate float64
				var image time.Duration
				for b.Loop() {
					rate = linkRate(b, h, 0x800000-512<<10, 256)
					image = imageTime(b, h, p)
				}
				b.ReportMetric(rate, "payload-B/s")
				b.ReportMetric(100*rate/(float64(baud)/10), "line-%")
				b.ReportMetric(image.Seconds(), "image-s")
			})
		}
	}
}
