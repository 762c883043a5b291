package path

import "testing"

const benchSearch = `Device.DeviceInfo.FirmwareImage.[Status=="Active"&&Available==true].Version`

func BenchmarkParseSearchPath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(benchSearch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatchSearchPath(b *testing.B) {
	p := mustParse(b, benchSearch)
	c := mustParse(b, "Device.DeviceInfo.FirmwareImage.2.Version")
	// A lookup as an engine would write it: instance number and parameter
	// name select the value, nothing is formatted.
	lookup := func(obj Path, param string) (string, Type, bool) {
		if obj.At(obj.Len()-1).Number() != 2 {
			return "", 0, false
		}
		switch param {
		case "Status":
			return "Active", String, true
		case "Available":
			return "1", Boolean, true
		}
		return "", 0, false
	}
	b.ReportAllocs()
	for b.Loop() {
		ok, err := p.Match(c, lookup)
		if !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkString(b *testing.B) {
	p := mustParse(b, benchSearch)
	b.ReportAllocs()
	for b.Loop() {
		_ = p.String()
	}
}
