package uboot

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Copy names a copy of the redundant environment, as U-Boot's
// gd->env_valid does.
type Copy int

const (
	CopyNone Copy = iota // ENV_INVALID: no good copy, the default environment is used
	Copy1                // ENV_VALID: the copy at CONFIG_ENV_OFFSET
	Copy2                // ENV_REDUND: the copy at CONFIG_ENV_OFFSET_REDUND
)

func (c Copy) String() string {
	switch c {
	case Copy1:
		return "copy 1"
	case Copy2:
		return "copy 2"
	}
	return "default environment"
}

// Selection is what U-Boot's env_check_redund and env_import decide from
// the two copies.
type Selection struct {
	Copy  Copy     // the copy in use; CopyNone: the default environment
	Env   Env      // its environment (the default one when Copy is CopyNone and a Loader selected)
	Flags [2]byte  // the flags bytes of copy 1 and copy 2 as read
	Errs  [2]error // why copy 1 / copy 2 is not usable; nil when it is
}

// Select applies U-Boot's rules (env_check_redund, then env_import) to
// the bytes of copy 1 and copy 2:
//
//	copy 1 CRC  copy 2 CRC  chosen
//	bad         bad         none: the default environment ("bad CRC")
//	ok          bad         copy 1
//	bad         ok          copy 2
//	ok          ok          by flags: 255 vs 0 ⇒ the 0 one (wrap-around);
//	                        otherwise the larger; equal ⇒ copy 1
//
// On SPI NOR the flags are ACTIVE 1 and OBSOLETE 0, so two good ACTIVE
// copies (a save cut between its two steps) choose copy 1, older or not.
// The chosen copy is then imported; if its entries do not parse, U-Boot
// uses the default environment ("import failed") rather than the other
// copy, and so does Select. With CopyNone, Env is empty: the caller
// supplies its default environment.
func Select(c1, c2 []byte) Selection {
	var s Selection
	ok := [2]bool{}
	for i, c := range [2][]byte{c1, c2} {
		if len(c) < HeaderSize+1 {
			s.Errs[i] = fmt.Errorf("%w: %d bytes", ErrShort, len(c))
			continue
		}
		s.Flags[i] = c[FlagsOffset]
		stored, sum := binary.LittleEndian.Uint32(c), crc32.ChecksumIEEE(c[HeaderSize:])
		if ok[i] = stored == sum; !ok[i] {
			s.Errs[i] = fmt.Errorf("%w: stored 0x%08x, data area sums to 0x%08x", ErrBadCRC, stored, sum)
		}
	}
	f1, f2 := s.Flags[0], s.Flags[1]
	switch {
	case !ok[0] && !ok[1]:
		return s
	case ok[0] && !ok[1]:
		s.Copy = Copy1
	case !ok[0] && ok[1]:
		s.Copy = Copy2
	case f1 == 255 && f2 == 0:
		s.Copy = Copy2
	case f2 == 255 && f1 == 0:
		s.Copy = Copy1
	case f1 > f2:
		s.Copy = Copy1
	case f2 > f1:
		s.Copy = Copy2
	default: // equal flags: "almost impossible", says U-Boot; not on SPI NOR
		s.Copy = Copy1
	}
	chosen := [2][]byte{c1, c2}[s.Copy-1]
	env, err := ParseEnv(chosen)
	if err != nil {
		s.Errs[s.Copy-1] = fmt.Errorf("import failed: %w", err)
		s.Copy = CopyNone
		return s
	}
	s.Env = env
	return s
}
