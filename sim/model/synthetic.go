package model

import "fmt"

// Synthetic makes a vendor model of about n parameters, for benchmarks
// and load tests: a quarter in single-instance objects and the rest in
// tables of two factory instances, a mix of fixed defaults, per-device
// templates, seeded draws, per-instance values and counters, a quarter
// of them writable. It always passes Check.
func Synthetic(n int) *Model {
	m := &Model{Name: fmt.Sprintf("synthetic-%d", n)}
	const per = 50
	kinds := []func(i int) *Param{
		func(i int) *Param { return &Param{Type: "string", Default: fmt.Sprintf("value-%d", i)} },
		func(i int) *Param {
			return &Param{Type: "string", Default: "{serial}-" + fmt.Sprint(i), Access: "readWrite"}
		},
		func(i int) *Param { return &Param{Type: "unsignedInt", Random: []int64{0, 1000}} },
		func(i int) *Param { return &Param{Type: "boolean", Default: "true", Access: "readWrite"} },
		func(i int) *Param { return &Param{Type: "unsignedLong", Counter: []float64{10, 1000}} },
		func(i int) *Param { return &Param{Type: "int", Default: "-5", Min: ptr(-100), Max: ptr(100)} },
		func(i int) *Param {
			return &Param{Type: "string", Choice: []string{"a", "b", "c"}, Access: "readWrite"}
		},
		func(i int) *Param { return &Param{Type: "string", Default: "{hex:8}"} },
	}
	made := 0
	for o := 0; made < n; o++ {
		table := made >= n/4
		obj := &Object{Path: fmt.Sprintf("Device.X_SYNTH_Object%d.", o)}
		if table {
			obj.Path = fmt.Sprintf("Device.X_SYNTH_Table%d.{i}.", o)
			obj.Instances = []uint32{1, 2}
		}
		for i := 0; i < per && made < n; i++ {
			p := kinds[made%len(kinds)](made)
			p.Name = fmt.Sprintf("Param%d", i)
			if table && i == 0 {
				p = &Param{Name: "Name", Type: "string", Default: "row-{i}"}
				obj.Keys = [][]string{{"Name"}}
			}
			obj.Params = append(obj.Params, p)
			made++
		}
		m.Objects = append(m.Objects, obj)
	}
	if err := m.Check(); err != nil {
		panic(err) // a bug of this function
	}
	return m
}

func ptr(v int64) *int64 { return &v }
