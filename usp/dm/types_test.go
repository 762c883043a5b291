package dm

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// An error message quoting a long value is cut at a character boundary,
// so the response still encodes (proto3 strings are UTF-8).
func TestTrunc_KeepsUTF8(t *testing.T) {
	got := trunc(strings.Repeat("a", 63) + "éé")
	if !utf8.ValidString(got) || !strings.HasSuffix(got, "...") {
		t.Fatalf("trunc = %q", got)
	}
}
