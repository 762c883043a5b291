package device

// Firmware is what a device runs, read from the device and its board: the
// truth a fleet report's outcome is computed from (see brickyard/sim/fleet).
type Firmware struct {
	// Power is the device's power state: On, Off (a reboot or a power cut
	// under way) or Dead (bricked: its last boot found nothing bootable).
	Power State
	// Version is the running image's version; empty unless Power is On.
	Version string
	// Trial: the running image booted on trial and is not confirmed: unless
	// it confirms itself, the bootloader reverts it.
	Trial bool
}

// Firmware is the device's firmware now.
func (d *Device) Firmware() Firmware {
	f := Firmware{Power: d.state}
	if d.state == On && d.board.Running != nil {
		f.Version = d.board.Running.Image.Version.String()
		f.Trial = d.trial
	}
	return f
}
