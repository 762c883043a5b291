package scenarios

import (
	"fmt"
	"io"
	"os"

	"brickyard/sim/device"
	"brickyard/sim/model"
)

// LoadModel reads a vendor data-model file (docs/vendor-model.md) in any
// of its forms — brickyard's YAML, a GetSupportedDM + Get JSON dump, a
// TR-181 XML definition — leaving out what the default model has, and
// checks that a device schema can be built with it. It returns what an
// import left out, one line each.
func LoadModel(file string) (*model.Model, []string, error) {
	fh, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, model.MaxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	base, err := device.Base()
	if err != nil {
		return nil, nil, err
	}
	m, notes, err := model.Load(data, base)
	if err != nil {
		return nil, notes, fmt.Errorf("%s: %w", file, err)
	}
	if _, err := device.NewSchemaWith(m); err != nil {
		return nil, notes, fmt.Errorf("%s: %w", file, err)
	}
	return m, notes, nil
}

// boardModels loads the vendor model of each board of the fleet section
// (its model:, else its profile's), once per file.
func boardModels(boards []BoardCount, profileModel func(profile string) string) ([]*model.Model, error) {
	loaded := map[string]*model.Model{}
	out := make([]*model.Model, len(boards))
	for i, bc := range boards {
		file := bc.Model
		if file == "" {
			file = profileModel(bc.Profile)
		}
		if file == "" {
			continue
		}
		if loaded[file] == nil {
			m, _, err := LoadModel(file)
			if err != nil {
				return nil, fmt.Errorf("fleet.boards[%d] (%s): model: %w", i, bc.Profile, err)
			}
			loaded[file] = m
		}
		out[i] = loaded[file]
	}
	return out, nil
}
