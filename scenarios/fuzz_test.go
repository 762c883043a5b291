package scenarios

import "testing"

// Scenario files are user input: any bytes give a scenario or an error,
// never a panic or a hang.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(smallVirtual))
	for _, n := range Builtins() {
		src, _ := BuiltinSource(n)
		f.Add(src)
	}
	f.Add([]byte("name: [\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Parse("fuzz.yaml", data)
		if err == nil && sc.Name == "" {
			t.Fatal("a scenario without a name was accepted")
		}
	})
}
