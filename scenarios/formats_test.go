package scenarios

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"brickyard/boards/image"
	"brickyard/boards/image/espapp"
	"brickyard/boards/image/fit"
	"brickyard/boards/image/imagetest"
	"brickyard/boards/image/mcuboot"
)

// Images given as files in the formats firmware builds make: an MCUboot
// image for mcuboot-nrf52, an ESP-IDF app for esp32-ota, a signed FIT for
// uboot-nor. The campaign installs them over the built factory images,
// the devices report their versions, and the report names each format.
func TestGivenImageFilesInRealFormats(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, alg := range []string{"ed25519", "rsa-2048"} {
		pub, err := image.MarshalAnyPublicKeyPEM(imagetest.Key(alg, 0).Public())
		if err != nil {
			t.Fatal(err)
		}
		write(alg+".pub.pem", pub)
	}
	mcu, err := mcuboot.Pack(imagetest.Key("ed25519", 0), nil, mcuboot.PackOptions{Version: image.Version{Major: 2},
		HeaderSize: 0x200, PadHeader: true, SlotSize: 384 << 10, Align: 4}, imagetest.Payload(9000, 1))
	if err != nil {
		t.Fatal(err)
	}
	esp, err := espapp.Pack(espapp.PackOptions{Version: "2.0.0"}, imagetest.Payload(9000, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fit.Pack(fit.PackOptions{Description: "board", Version: "2.0.0",
		Images:  []fit.Image{{Name: "kernel-1", Description: "kernel", Type: "kernel", Arch: "arm", OS: "linux", Data: imagetest.Payload(9000, 3)}},
		Configs: []fit.Config{{Name: "conf-1", Description: "board", Kernel: "kernel-1", Sign: &fit.Signature{Algo: "sha256,rsa2048", KeyNameHint: "dev"}}}},
		imagetest.Key("rsa-2048", 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	write("zephyr.signed.bin", mcu)
	write("app.bin", esp)
	write("fit.itb", f)
	write("s.yaml", []byte(`name: real formats
fleet:
  boards:
    - {profile: mcuboot-nrf52, count: 4}
    - {profile: esp32-ota, count: 4}
    - {profile: uboot-nor, count: 4}
device: {reboot: 5s, trial: 30s}
images:
  - version: 2.0.0
    files:
      mcuboot-nrf52: zephyr.signed.bin
      esp32-ota: app.bin
      uboot-nor: fit.itb
trust: [ed25519.pub.pem, rsa-2048.pub.pem]
campaign:
  image: 2.0.0
expect: [updated == 12]
`))
	sc, err := Load(filepath.Join(dir, "s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), sc, Options{Profiles: profiles(t)})
	if err != nil {
		t.Fatal(err)
	}
	if failed := Failed(r); len(failed) > 0 {
		t.Fatalf("%+v: %+v", failed, r.Outcomes)
	}
	got := map[string]string{}
	for _, im := range r.Images {
		if im.Version == "2.0.0" {
			got[im.Board] = im.Format + " " + im.File
		}
	}
	for board, want := range map[string]string{"mcuboot-nrf52": "mcuboot zephyr.signed.bin", "esp32-ota": "esp-app app.bin", "uboot-nor": "fit fit.itb"} {
		if got[board] != want {
			t.Errorf("report image of %s: %q, want %q (%+v)", board, got[board], want, r.Images)
		}
	}
	for _, d := range r.Fleet {
		if d.Version != "2.0.0" {
			t.Errorf("%s (%s) runs %q", d.ID, d.Board, d.Version)
		}
	}
}
