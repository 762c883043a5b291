package path_test

import (
	"errors"
	"fmt"

	"brickyard/usp"
	"brickyard/usp/path"
)

func ExampleParse() {
	p, err := path.Parse(`Device.DeviceInfo.FirmwareImage.[ Status == "Active" ].Version`)
	if err != nil {
		panic(err)
	}
	fmt.Println(p, p.Kind(), p.IsSearch())
	fmt.Println(p.Schema())

	_, err = path.Parse("Device.DeviceInfo.FirmwareImage.0.")
	fmt.Println(errors.Is(err, usp.InvalidPathSyntax))
	// Output:
	// Device.DeviceInfo.FirmwareImage.[Status=="Active"].Version parameter true
	// Device.DeviceInfo.FirmwareImage.{i}.Version
	// true
}

func ExamplePath_Match() {
	sub, _ := path.Parse(`Device.DeviceInfo.FirmwareImage.[Status=="Active"].`)
	changed, _ := path.Parse("Device.DeviceInfo.FirmwareImage.2.Version")
	lookup := func(obj path.Path, param string) (string, path.Type, bool) {
		if param == "Status" {
			return "Active", path.String, true
		}
		return "", 0, false
	}
	matched, _ := sub.Match(changed, lookup)
	covered, _ := sub.Covers(changed, lookup)
	fmt.Println(matched, covered)
	// Output: false true
}

func ExampleExpr_Eval() {
	p, _ := path.Parse(`Device.X.[Enable=="true"].`)
	e := p.At(2).Exprs()[0]
	_, err := e.Eval("true", path.Boolean)
	code, _ := usp.CodeOf(err)
	fmt.Println(code)
	// Output: 7008 Invalid path syntax
}
