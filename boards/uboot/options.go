package uboot

import (
	"fmt"
	"slices"
	"strconv"

	"brickyard/boards/image"
)

// Names of the model's slots (partitions and values of boot_part) and of
// the environment variables it reads and writes.
const (
	SlotA = "A"
	SlotB = "B"

	VarBootPart         = "boot_part"         // the slot bootcmd boots: "A" or "B"
	VarUpgradeAvailable = "upgrade_available" // ≠ 0: a trial is running, boots are counted
	VarBootCount        = "bootcount"         // boots counted since the last reset of the counter
	VarBootLimit        = "bootlimit"         // bootcount > bootlimit ≠ 0 ⇒ altbootcmd
	VarCanary           = "saveenv_canary"    // set and saved once by ab_setup (Mender's mender_saveenv_canary)
	VarBootConf         = "bootconf"          // the FIT configuration bootm boots (bootm ADDR#${bootconf}); unset: the FIT's default
)

// FIT signature requirements (Options.FITSignature).
const (
	FITSignatureAuto     = "auto"     // required when the board trusts an RSA or ECDSA key: U-Boot's control DTB holds it, required = "conf"
	FITSignatureRequired = "required" // always (CONFIG_FIT_SIGNATURE, required keys)
	FITSignatureNone     = "none"     // never: hashes only
)

// Defaults of Options.
const (
	DefaultBootLimit = 1 // Mender's: exactly one trial boot
	DefaultEnvSize   = 0x2000
	DefaultEnv1      = "env1"
	DefaultEnv2      = "env2"

	maxBootLimit = 255
	maxEnvSize   = 1 << 20
)

// Options configure the model; the zero value is Mender's configuration.
type Options struct {
	// BootLimit is bootlimit in the compiled-in default and the factory
	// environment: the boots a new image gets on trial before altbootcmd
	// reverts it. 0 means DefaultBootLimit; at most 255.
	BootLimit int `yaml:"boot_limit" mapstructure:"boot_limit"`
	// EnvSize is CONFIG_ENV_SIZE: the bytes of one copy, header included.
	// 0 means DefaultEnvSize. Each env partition must hold it rounded up
	// to whole erase sectors.
	EnvSize int `yaml:"env_size" mapstructure:"env_size"`
	// Env1 and Env2 name the partitions of copy 1 (CONFIG_ENV_OFFSET) and
	// copy 2 (CONFIG_ENV_OFFSET_REDUND); "" means "env1" and "env2".
	Env1 string `yaml:"env1" mapstructure:"env1"`
	Env2 string `yaml:"env2" mapstructure:"env2"`
	// Formats are the image formats bootcmd boots; none means BYFW and FIT.
	Formats []image.Format `yaml:"formats" mapstructure:"formats"`
	// FITSignature is when a FIT's configuration must be signed: "auto"
	// (the default), "required" or "none" (FITSignature* constants).
	FITSignature string `yaml:"fit_signature" mapstructure:"fit_signature"`
	// Arch, when set, is U-Boot's architecture: a FIT kernel for another
	// ("arm64" on "arm") is refused as bootm refuses it.
	Arch string `yaml:"arch" mapstructure:"arch"`
	// BootConf, when set, is bootconf in the compiled-in environment: the
	// FIT configuration to boot instead of the FIT's default.
	BootConf string `yaml:"bootconf" mapstructure:"bootconf"`
}

// withDefaults fills in zero fields.
func (o Options) withDefaults() Options {
	if o.BootLimit == 0 {
		o.BootLimit = DefaultBootLimit
	}
	if o.EnvSize == 0 {
		o.EnvSize = DefaultEnvSize
	}
	if o.Env1 == "" {
		o.Env1 = DefaultEnv1
	}
	if o.Env2 == "" {
		o.Env2 = DefaultEnv2
	}
	if len(o.Formats) == 0 {
		o.Formats = []image.Format{image.FormatBYFW, image.FormatFIT}
	}
	if o.FITSignature == "" {
		o.FITSignature = FITSignatureAuto
	}
	return o
}

// Validate reports the first thing wrong with o (after defaults).
func (o Options) Validate() error {
	o = o.withDefaults()
	switch {
	case o.BootLimit < 0 || o.BootLimit > maxBootLimit:
		return fmt.Errorf("uboot: boot_limit %d: want 1…%d (0 means %d)", o.BootLimit, maxBootLimit, DefaultBootLimit)
	case o.EnvSize < 0 || o.EnvSize > maxEnvSize:
		return fmt.Errorf("uboot: env_size %d: want at most %d bytes (0 means 0x%x)", o.EnvSize, maxEnvSize, DefaultEnvSize)
	case o.Env1 == o.Env2:
		return fmt.Errorf("uboot: env1 and env2 are both partition %q", o.Env1)
	case o.Env1 == SlotA || o.Env1 == SlotB || o.Env2 == SlotA || o.Env2 == SlotB:
		return fmt.Errorf("uboot: env partitions %q, %q: the names A and B are the image slots", o.Env1, o.Env2)
	case !slices.Contains([]string{FITSignatureAuto, FITSignatureRequired, FITSignatureNone}, o.FITSignature):
		return fmt.Errorf("uboot: fit_signature %q: want auto, required or none", o.FITSignature)
	}
	for _, f := range o.Formats {
		if f != image.FormatBYFW && f != image.FormatFIT {
			return fmt.Errorf("uboot: formats: %s: U-Boot boots byfw and fit images", f)
		}
	}
	if _, err := defaultEnv(o.BootLimit, o.BootConf).Encode(o.EnvSize); err != nil {
		return fmt.Errorf("uboot: env_size %d cannot hold the default environment: %w", o.EnvSize, err)
	}
	return nil
}

// defaultEnv is the compiled-in environment (CONFIG_EXTRA_ENV_SETTINGS):
// Mender's integration with the slot names as boot_part values. The scripts
// are stored so that fw_printenv shows what a board shows; the model
// performs their meaning itself (see boot.go) and does not interpret them.
func defaultEnv(bootLimit int, bootConf string) Env {
	e := Env{Vars: map[string]string{
		"bootcmd":           "run ab_setup; run ab_boot_slot; run ab_try_to_recover",
		"altbootcmd":        "run ab_altbootcmd; run bootcmd",
		"ab_setup":          `if test "${saveenv_canary}" != "1"; then setenv saveenv_canary 1; saveenv; fi`,
		"ab_boot_slot":      "fwi verify ${boot_part} && fwi boot ${boot_part}",
		"ab_altbootcmd":     "if test ${boot_part} = A; then setenv boot_part B; else setenv boot_part A; fi; setenv upgrade_available 0; saveenv; run ab_setup",
		"ab_try_to_recover": "if test ${upgrade_available} = 1; then reset; fi",
		VarBootPart:         SlotA,
		VarBootLimit:        strconv.Itoa(bootLimit),
		VarBootCount:        "0",
		VarUpgradeAvailable: "0",
	}}
	if bootConf != "" {
		e.Vars[VarBootConf] = bootConf
	}
	return e
}
