package espapp_test

import (
	"bytes"
	"crypto"
	"testing"

	"brickyard/boards/image"
	"brickyard/boards/image/espapp"
)

func pack(t testing.TB, o espapp.PackOptions, payload []byte, signers ...crypto.Signer) []byte {
	t.Helper()
	img, err := espapp.Pack(o, payload, nil, signers...)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return img
}

func verify(img []byte, keys *image.Keyring, r espapp.Rules, p image.Policy) (image.Info, error) {
	return espapp.Verify(bytes.NewReader(img), int64(len(img)), keys, r, p)
}

// fixed compile time and date, as __TIME__ and __DATE__ write them.
func desc(version string) espapp.PackOptions {
	return espapp.PackOptions{Version: version, ProjectName: "blink", Time: "12:00:00", Date: "Jan  2 2026"}
}
