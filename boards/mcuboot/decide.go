package mcuboot

// Decide is MCUboot's swap-type table (boot_swap_type_multi) for the swap
// modes other than swap-offset, evaluated top to bottom:
//
//	row  primary magic/image_ok/copy_done  secondary magic/image_ok  result
//	II   any / any / any                   GOOD / UNSET              SwapTest
//	III  any / any / any                   GOOD / SET                SwapPerm
//	IV   GOOD / UNSET / SET                UNSET / any               SwapRevert
//	—    nothing matched                                             SwapNone
//
// Row I (secondary GOOD, image_ok UNSET, copy_done SET ⇒ REVERT) exists
// only in swap-offset mode and is left out. Row IV requires the secondary
// magic UNSET, as upstream's table does (BOOT_MAGIC_UNSET in
// bootutil_public.c); a secondary trailer with a BAD magic, or GOOD magic
// and a BAD image_ok, therefore decides NONE.
func Decide(primary, secondary Trailer) SwapType {
	switch {
	case secondary.Magic == MagicGood && secondary.ImageOK == FlagUnset:
		return SwapTest
	case secondary.Magic == MagicGood && secondary.ImageOK == FlagSet:
		return SwapPerm
	case primary.Magic == MagicGood && primary.ImageOK == FlagUnset && primary.CopyDone == FlagSet &&
		secondary.Magic == MagicUnset:
		return SwapRevert
	}
	return SwapNone
}

// Source is where the status of a swap in progress lives.
type Source uint8

// Status sources (BOOT_STATUS_SOURCE_*).
const (
	SourceNone Source = iota
	SourceScratch
	SourcePrimary
)

func (s Source) String() string {
	switch s {
	case SourceScratch:
		return "scratch"
	case SourcePrimary:
		return "primary"
	}
	return "none"
}

// StatusSource is swap_status_source's table for swap using scratch,
// evaluated top to bottom:
//
//	primary magic  primary copy_done  scratch magic  source
//	GOOD           SET                not GOOD       none (no swap in progress)
//	GOOD           UNSET              not GOOD       primary
//	any            any                GOOD           scratch, if its image number is 0
//	UNSET          UNSET              any            primary ("never swapped" or mid-revert)
//	otherwise                                        none
//
// The first two rows require the scratch magic not to be GOOD
// (BOOT_MAGIC_NOTGOOD upstream): while the first region is swapped, the
// primary trailer still looks complete and only scratch holds the status.
func StatusSource(primary, scratch Trailer) Source {
	switch {
	case primary.Magic == MagicGood && scratch.Magic != MagicGood && primary.CopyDone == FlagSet:
		return SourceNone
	case primary.Magic == MagicGood && scratch.Magic != MagicGood && primary.CopyDone == FlagUnset:
		return SourcePrimary
	case scratch.Magic == MagicGood:
		if scratch.ImageNum != 0 {
			return SourceNone
		}
		return SourceScratch
	case primary.Magic == MagicUnset && primary.CopyDone == FlagUnset:
		return SourcePrimary
	}
	return SourceNone
}
