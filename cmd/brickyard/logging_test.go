package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestNewLogger(t *testing.T) {
	for _, tc := range []struct {
		cfg      LogConfig
		wantJSON bool
	}{
		{LogConfig{Level: "info", Format: "json"}, true},
		{LogConfig{Level: "info", Format: "auto"}, true}, // a buffer is not a terminal
		{LogConfig{Level: "info", Format: "console"}, false},
	} {
		var buf bytes.Buffer
		log, err := newLogger(tc.cfg, &buf)
		if err != nil {
			t.Fatal(err)
		}
		log.Debug("hidden")
		log.Info("shown")
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "shown") {
			t.Errorf("%+v: got %q; want one info line", tc.cfg, buf.String())
		}
		if isJSON := json.Valid([]byte(lines[0])); isJSON != tc.wantJSON {
			t.Errorf("%+v: line %q: JSON is %v; want %v", tc.cfg, lines[0], isJSON, tc.wantJSON)
		}
		if strings.Contains(buf.String(), "\x1b[") {
			t.Errorf("%+v: colour codes written to a non-terminal: %q", tc.cfg, buf.String())
		}
	}
}

func TestRunLogsToStderr(t *testing.T) {
	out, errOut, code := runBrickyard(t, []string{"BRICKYARD_LOG_LEVEL=debug"}, "--log-format", "json", "version")
	if code != 0 || !strings.HasPrefix(out, "brickyard version ") {
		t.Fatalf("code %d, stdout %q", code, out)
	}
	var entry struct{ Level, Msg string }
	if err := json.Unmarshal([]byte(strings.TrimSpace(errOut)), &entry); err != nil || entry.Level != "debug" || entry.Msg != "configuration loaded" {
		t.Errorf("stderr %q; want one JSON debug entry (err %v)", errOut, err)
	}
	if _, errOut, _ := runBrickyard(t, nil, "version"); errOut != "" {
		t.Errorf("at the default level info, stderr = %q; want nothing", errOut)
	}
}
