package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"brickyard/sim/device"
)

// ErrPowerCut is returned by a Fetcher when the fetch's PowerCut fault
// lands: the shell then cuts the device's power instead of calling
// FetchDone.
var ErrPowerCut = errors.New("fleet: power cut during download")

// Fetcher downloads what a device asks for (device.Fetch), applying the
// fetch's fault fields. Fetch blocks; the caller owns the goroutine.
type Fetcher interface {
	Fetch(ctx context.Context, f device.Fetch) ([]byte, error)
}

// HTTPFetcher fetches with net/http: GET with Basic authentication when
// the fetch has a Username, at most MaxSize bytes, at the fault's rate
// (paced with Clock), truncated or corrupted as the fault says.
type HTTPFetcher struct {
	Client  *http.Client // default http.DefaultClient
	MaxSize int64        // default 64 MiB
	Clock   Clock        // default StdClock
	// Timeout bounds a whole download, as a device's download client
	// does: a server that stalls fails the download instead of holding
	// the device in Downloading. 0: 10 minutes; negative: none.
	Timeout time.Duration
}

// Fetch implements Fetcher.
func (h *HTTPFetcher) Fetch(ctx context.Context, f device.Fetch) ([]byte, error) {
	client, clock, limit := h.Client, h.Clock, h.MaxSize
	if client == nil {
		client = http.DefaultClient
	}
	if clock == nil {
		clock = StdClock{}
	}
	if limit <= 0 {
		limit = 64 << 20
	}
	if h.Timeout >= 0 {
		timeout := h.Timeout
		if timeout == 0 {
			timeout = 10 * time.Minute
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return nil, err
	}
	if f.Username != "" {
		req.SetBasicAuth(f.Username, f.Password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets the connection be reused
		return nil, fmt.Errorf("fetch %s: HTTP %s", f.URL, resp.Status)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("image of %d bytes: more than %d", resp.ContentLength, limit)
	}
	total := resp.ContentLength
	if total < 0 {
		total = int64(f.SizeHint)
	}
	want := int64(-1) // bytes to deliver (truncate)
	if f.Truncate > 0 && total > 0 {
		want = int64(float64(total) * f.Truncate)
	}
	cutAt := int64(-1)
	if f.PowerCut != nil && total > 0 {
		cutAt = int64(float64(total) * f.PowerCut.Fraction)
	}
	var data []byte
	buf := make([]byte, 32<<10)
	chunk := len(buf)
	if f.Rate > 0 {
		chunk = min(chunk, max(1, f.Rate/10))
	}
	for {
		if cutAt >= 0 && int64(len(data)) >= cutAt {
			return nil, ErrPowerCut
		}
		if want >= 0 && int64(len(data)) >= want {
			data = data[:want]
			break
		}
		n, err := resp.Body.Read(buf[:chunk])
		data = append(data, buf[:n]...)
		if int64(len(data)) > limit {
			return nil, fmt.Errorf("image longer than %d bytes", limit)
		}
		if f.Rate > 0 && n > 0 {
			if err := sleep(ctx, clock, time.Duration(float64(n)/float64(f.Rate)*float64(time.Second))); err != nil {
				return nil, err
			}
		}
		if err == io.EOF {
			// The last bytes may come with EOF: the cut points still apply.
			if cutAt >= 0 && int64(len(data)) >= cutAt {
				return nil, ErrPowerCut
			}
			if want >= 0 && int64(len(data)) > want {
				data = data[:want]
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", f.URL, err)
		}
	}
	if f.Corrupt && len(data) > 0 {
		data[len(data)/2] ^= 0x40
	}
	return data, nil
}

func sleep(ctx context.Context, c Clock, d time.Duration) error {
	t, ch := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
