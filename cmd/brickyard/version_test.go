package main

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionText(t *testing.T) {
	out, errOut, code := runBrickyard(t, nil, "version")
	if code != 0 || errOut != "" {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	f := strings.Fields(out)
	if len(f) != 5 || f[0] != "brickyard" || f[1] != "version" || f[2] == "" ||
		f[3] != runtime.Version() || f[4] != runtime.GOOS+"/"+runtime.GOARCH || !strings.HasSuffix(out, "\n") {
		t.Errorf("version output %q; want \"brickyard version V %s %s/%s\\n\"", out, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
}

func TestVersionJSON(t *testing.T) {
	out, errOut, code := runBrickyard(t, nil, "version", "--json")
	if code != 0 || errOut != "" {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	var vi versionInfo
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&vi); err != nil {
		t.Fatalf("output %q is not a version object: %v", out, err)
	}
	if vi.Version == "" || vi.Go != runtime.Version() || vi.OS != runtime.GOOS || vi.Arch != runtime.GOARCH {
		t.Errorf("version --json = %+v", vi)
	}
}

func TestNewVersionInfo(t *testing.T) {
	rev := "0123456789abcdef0123456789abcdef01234567"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	for _, tc := range []struct {
		name   string
		ldflag string
		bi     *debug.BuildInfo
		want   string
	}{
		{"no build info", "", nil, "(devel)"},
		{"devel without vcs", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "(devel)"},
		{"module version", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: vcs("false")}, "v1.2.3"},
		{"clean revision", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("false")}, "0123456789ab"},
		{"modified revision", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")}, "0123456789ab+dirty"},
		{"ldflags win", "v9.9.9", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v9.9.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vi := newVersionInfo(tc.ldflag, tc.bi, tc.bi != nil)
			if vi.Version != tc.want {
				t.Errorf("Version = %q; want %q", vi.Version, tc.want)
			}
		})
	}
}
