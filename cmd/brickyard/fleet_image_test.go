package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// --image makes a file the factory image of a board's devices, in any
// format its bootloader takes: the devices report its version. A file the
// board refuses, or one signed by a key not given with --trust, is an
// error before anything runs.
func TestFleet_FactoryImageFromFile(t *testing.T) {
	keys := keygen1(t)
	app := packAs(t, "--format", "mcuboot", "--key", filepath.Join(keys, "image.key.pem"), "--board", "mcuboot-nrf52",
		"--version", "4.2.0", "--size", "8KiB")
	esp := packAs(t, "--format", "esp-app", "--version", "4.3.0", "--size", "8KiB")
	pub := filepath.Join(keys, "image.pub.pem")
	out, errOut, code := runBrickyard(t, nil, "fleet", "--dump-model", "--boards-mix", "mcuboot-nrf52=1,esp32-ota=1",
		"--image", "mcuboot-nrf52="+app, "--trust", pub)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	if !strings.Contains(out, "board mcuboot-nrf52, firmware 4.2.0") || !strings.Contains(out, `Device.DeviceInfo.SoftwareVersion = "4.2.0"`) {
		t.Errorf("the first device does not run the MCUboot image:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--image", "mcuboot-nrf52=" + app}, "is its key given with --trust?"},
		{[]string{"--image", "mcuboot-nrf52=" + esp, "--trust", pub}, "format not accepted"},
		{[]string{"--image", "uboot-nor=" + app, "--trust", pub}, `board "uboot-nor" is not in the fleet`},
		{[]string{"--image", "mcuboot-nrf52", "--trust", pub}, "want PROFILE=FILE"},
		{[]string{"--image", "mcuboot-nrf52=" + filepath.Join(t.TempDir(), "none"), "--trust", pub}, "no such file"},
	} {
		args := append([]string{"fleet", "--dump-model", "--board", "mcuboot-nrf52"}, tc.args...)
		_, errOut, code := runBrickyard(t, nil, args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: code %d, stderr %q; want %q", tc.args, code, errOut, tc.want)
		}
	}
}
