package image

import (
	"crypto/ed25519"
	"testing"
)

// CheckSignature verifies a signature once per keyring: a true answer is
// remembered for the same key, message and signature, a false one never,
// and another message, signature or key is verified again.
func TestCheckSignature(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k := NewKeyring(pub)
	memo := mapMemo{}
	k.UseMemo(memo)
	calls := 0
	check := func(key, msg, sig string, answer bool) bool {
		return k.CheckSignature([]byte(key), []byte(msg), []byte(sig), func() bool { calls++; return answer })
	}
	for i, c := range []struct {
		key, msg, sig string
		answer, want  bool
		calls         int
	}{
		{"k", "m", "s", true, true, 1},
		{"k", "m", "s", false, true, 1}, // remembered: not asked again
		{"k", "m", "t", false, false, 2},
		{"k", "m", "t", false, false, 3}, // a false answer is not remembered
		{"k", "n", "s", true, true, 4},
		{"l", "m", "s", true, true, 5},
		{"km", "", "s", true, true, 6}, // fields are length-prefixed: not "k"+"m"
	} {
		if got := check(c.key, c.msg, c.sig, c.answer); got != c.want || calls != c.calls {
			t.Errorf("%d: %v after %d checks, want %v after %d", i, got, calls, c.want, c.calls)
		}
	}
	if len(memo) != 4 {
		t.Errorf("memo holds %d, want the 4 that verified", len(memo))
	}
	var zero *Keyring
	if zero.CheckSignature(nil, nil, nil, func() bool { return true }) != true || (&Keyring{}).CheckSignature(nil, nil, nil, func() bool { return false }) {
		t.Error("a keyring without a memo answers what verify says")
	}
	calls = 0
	k.UseMemo(nil)
	if !check("k", "m", "s", true) || calls != 1 {
		t.Error("without its memo a keyring verifies every time")
	}
}

type mapMemo map[[32]byte]bool

func (m mapMemo) Verified(id [32]byte) bool { return m[id] }
func (m mapMemo) Remember(id [32]byte)      { m[id] = true }
