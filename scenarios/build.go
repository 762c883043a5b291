package scenarios

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"brickyard/boards"
	"brickyard/boards/image"
	"brickyard/boards/image/formats"
	"brickyard/boards/profile"
	"brickyard/flash"
	"brickyard/scenarios/campaign"
	"brickyard/scenarios/report"
	"brickyard/sim/fleet"
)

// maxKeyFile is the largest public-key file a scenario may name.
const maxKeyFile = 64 << 10

// built is what a scenario turns into before anything runs.
type built struct {
	groups  []fleet.BoardGroup
	devices []campaign.Device // every device, in endpoint-ID order
	waves   []campaign.Wave
	files   map[string][]byte // URL path → image
	images  []report.Image    // every image, for the report
	ids     IDScheme
	serials IDScheme
	keys    *image.Keyring    // what the boards trust
	factory map[string][]byte // each profile's factory image
}

// signatureMemo is how many verified signatures the fleet's Keyring
// remembers (image.Keyring.CheckSignature): a few per image.
const signatureMemo = 1024

// build signs the images, provisions the factory boards, splits every
// board's devices over the waves and names the devices. Image paths are
// "/images/BOARD/VERSION.img"; wave images get their URL from base.
func (sc *Scenario) build(profiles profile.Set, readFile func(string, int64) ([]byte, error), base string) (*built, error) {
	c := &checker{sc: sc}
	seed := sha256.Sum256(fmt.Appendf(nil, "brickyard scenario key %d", sc.Seed))
	key := ed25519.NewKeyFromSeed(seed[:])
	keys := image.NewKeyring(key.Public().(ed25519.PublicKey))
	keys.UseMemo(fleet.NewSignatureMemo(signatureMemo))
	for i, f := range sc.Trust {
		data, err := readFile(sc.path(f), maxKeyFile)
		if err == nil {
			var pubs []crypto.PublicKey
			if pubs, err = formats.ParseTrustFile(data); err == nil {
				for _, pub := range pubs {
					if err = keys.AddKey(pub); err != nil {
						break
					}
				}
			}
		}
		if err != nil {
			c.errorf("trust."+strconv.Itoa(i), "%v", err)
		}
	}
	b := &built{files: map[string][]byte{}, keys: keys, factory: map[string][]byte{}}
	b.ids, _ = ParseIDScheme(sc.Fleet.IDs)
	b.serials, _ = ParseIDScheme(sc.Fleet.Serials)

	profs := map[string]profile.Profile{}
	for i, bc := range sc.Fleet.Boards {
		p, err := profiles.Get(bc.Profile)
		if err != nil {
			c.errorf("fleet.boards."+strconv.Itoa(i)+".profile", "%v", err)
			continue
		}
		profs[bc.Profile] = p
	}
	if len(c.errs) > 0 {
		return nil, c.err()
	}
	// image returns board's image of version, building it unless a file
	// gives it.
	img := func(board, version string, bad bool, payload int, file, key0 string) []byte {
		p := profs[board]
		var raw []byte
		format := image.FormatBYFW
		if file != "" {
			data, err := readFile(sc.path(file), int64(p.SlotSize()))
			if err != nil {
				c.errorf(key0, "%v", err)
				return nil
			}
			h, err := formats.VerifyBytes(data, keys, p.ImageRules(), image.Policy{Board: board})
			if err != nil {
				c.errorf(key0, "%s: %v (is its key in trust?)", file, err)
				return nil
			}
			if h.VersionString() != version {
				c.errorf(key0, "%s holds version %q, not %s", file, h.VersionString(), version)
				return nil
			}
			raw, format = data, h.Format
		} else {
			// The size is checked before the image is made: a payload
			// larger than the slot must cost nothing but its error.
			if n := image.HeaderSize + payload + image.TrailerSize; n > p.SlotSize() {
				c.errorf(key0, "a %d-byte image (payload %d) does not fit the %d-byte slots of %s", n, payload, p.SlotSize(), board)
				return nil
			}
			v, _ := image.ParseVersion(version)
			body := make([]byte, payload)
			for i := range body {
				body[i] = byte(i*7) ^ v.Major ^ v.Minor<<3 ^ byte(v.Patch)
			}
			var flags uint32
			if bad {
				flags = image.FlagHealthFail
			}
			var err error
			raw, err = image.Pack(key, image.Header{Version: v, BoardID: board, Flags: flags}, body)
			if err != nil {
				c.errorf(key0, "%v", err)
				return nil
			}
		}
		if len(raw) > p.SlotSize() {
			c.errorf(key0, "a %d-byte image does not fit the %d-byte slots of %s", len(raw), p.SlotSize(), board)
			return nil
		}
		sum := sha256.Sum256(raw)
		b.images = append(b.images, report.Image{Board: board, Version: version, Format: format.String(), File: file,
			Bytes: len(raw), SHA256: hex.EncodeToString(sum[:])})
		return raw
	}
	byVersion := map[string]int{}
	for i, im := range sc.Images {
		byVersion[im.Version] = i
		payload, _ := parseSize(im.Payload)
		for _, bc := range sc.Fleet.Boards {
			raw := img(bc.Profile, im.Version, im.Bad, payload, im.Files[bc.Profile], "images."+strconv.Itoa(i))
			if raw != nil {
				b.files[imagePath(bc.Profile, im.Version)] = raw
			}
		}
	}
	// Factory boards.
	factories := map[string]*boards.Board{}
	for i, bc := range sc.Fleet.Boards {
		raw, ok := b.files[imagePath(bc.Profile, bc.Version)]
		if !ok {
			raw = img(bc.Profile, bc.Version, false, 16<<10, "", "fleet.boards."+strconv.Itoa(i)+".version")
		}
		if raw == nil {
			continue
		}
		b.factory[bc.Profile] = raw
		p := profs[bc.Profile]
		fb, err := p.Provision(keys, flash.NewBlob(raw, p.Flash.Erased))
		if err != nil {
			c.errorf("fleet.boards."+strconv.Itoa(i), "%v", err)
			continue
		}
		factories[bc.Profile] = fb
	}
	if len(c.errs) > 0 {
		return nil, c.err()
	}
	// Waves.
	for _, w := range sc.Campaign.Waves {
		cw := campaign.Wave{Name: w.Name, Deadline: w.Deadline, Images: map[string]campaign.Image{}}
		for _, bc := range sc.Fleet.Boards {
			path := imagePath(bc.Profile, w.Image)
			raw := b.files[path]
			sum := sha256.Sum256(raw)
			cw.Images[bc.Profile] = campaign.Image{URL: base + path, Version: w.Image, Size: len(raw), SHA256: hex.EncodeToString(sum[:])}
		}
		for _, bb := range sc.Bench { // a bench board runs its profile's images
			cw.Images[benchGroup(bb.Name)] = cw.Images[bb.profileName()]
		}
		b.waves = append(b.waves, cw)
	}
	// Devices: each board's count split over the waves by largest
	// remainder, so that every wave has the fleet's board mix.
	shares := make([]float64, len(sc.Campaign.Waves))
	for i, w := range sc.Campaign.Waves {
		shares[i] = w.share
	}
	models, err := boardModels(sc.Fleet.Boards, func(name string) string {
		p, _ := profiles.Get(name)
		return p.Model
	})
	if err != nil {
		return nil, err
	}
	n := 0
	for bi, bc := range sc.Fleet.Boards {
		for w, cnt := range split(bc.Count, shares) {
			if cnt == 0 {
				continue
			}
			b.groups = append(b.groups, fleet.BoardGroup{Name: bc.Profile, Factory: factories[bc.Profile], Count: cnt, Wave: w + 1,
				Target: sc.Campaign.Waves[w].Image, Model: models[bi]})
			for range cnt {
				n++
				b.devices = append(b.devices, campaign.Device{ID: b.ids.ID(n), Board: bc.Profile, Wave: w + 1})
			}
		}
	}
	// Bench boards: one device each, after the simulated ones; their
	// groups get their boards when the run attaches them (startBench).
	for _, bb := range sc.Bench {
		b.groups = append(b.groups, fleet.BoardGroup{Name: benchGroup(bb.Name), Count: 1, Wave: bb.Wave})
		n++
		b.devices = append(b.devices, campaign.Device{ID: b.ids.ID(n), Board: benchGroup(bb.Name), Wave: bb.Wave})
	}
	return b, nil
}

func (c *checker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return errors.Join(c.errs...)
}

// path resolves a file named in the scenario against the scenario's folder.
func (sc *Scenario) path(f string) string {
	if filepath.IsAbs(f) || sc.dir == "" {
		return f
	}
	return filepath.Join(sc.dir, f)
}

func imagePath(board, version string) string {
	return "/images/" + board + "/" + version + ".img"
}

// split divides n by shares (summing to 1) with the largest-remainder
// method: exact, and deterministic (ties go to the earlier share). A share
// that is not a number in [0, 1] counts as 0 (validation refuses them
// first; this keeps the loop bounded by n whatever it is given).
func split(n int, shares []float64) []int {
	out := make([]int, len(shares))
	if len(shares) == 0 {
		return out
	}
	rem := make([]float64, len(shares))
	total := 0
	for i, s := range shares {
		if !(s > 0 && s <= 1) {
			rem[i] = -1
			continue
		}
		x := s * float64(n)
		out[i] = min(int(x), n-total)
		rem[i] = x - float64(out[i])
		total += out[i]
	}
	for total < n {
		best := -1
		for i := range rem {
			if shares[i] > 0 && shares[i] <= 1 && (best < 0 || rem[i] > rem[best]) {
				best = i
			}
		}
		if best < 0 {
			best = len(out) - 1
		}
		out[best]++
		rem[best] = -1
		total++
	}
	return out
}

// printf is the scheme as a fmt format for one int (fleet's IDFormat).
func (p IDScheme) printf() string {
	esc := func(s string) string { return strings.ReplaceAll(s, "%", "%%") }
	w := ""
	if p.width > 0 {
		w = "0" + strconv.Itoa(p.width)
	}
	return esc(p.prefix) + "%" + w + "d" + esc(p.suffix)
}
