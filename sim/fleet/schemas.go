package fleet

import (
	"fmt"

	"brickyard/sim/device"
	"brickyard/usp/dm"
)

// groupSchemas is the schema of each board group: the run's, or — for a
// group with a vendor data model — one built with it (device.NewSchemaWith),
// shared by the groups that name the same model.
func groupSchemas(s *dm.Schema, groups []BoardGroup) ([]*dm.Schema, error) {
	out := make([]*dm.Schema, len(groups))
	built := map[any]*dm.Schema{}
	for i, g := range groups {
		out[i] = s
		if g.Model == nil {
			continue
		}
		if vs := built[g.Model]; vs != nil {
			out[i] = vs
			continue
		}
		vs, err := device.NewSchemaWith(g.Model)
		if err != nil {
			return nil, fmt.Errorf("fleet: board group %q: %w", g.Name, err)
		}
		built[g.Model], out[i] = vs, vs
	}
	return out, nil
}
