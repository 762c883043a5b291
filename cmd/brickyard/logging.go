package main

import (
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// LogConfig is the log section of the configuration.
type LogConfig struct {
	Level  LogLevel  `mapstructure:"level"`
	Format LogFormat `mapstructure:"format"`
}

// LogLevel is the least severe level that is logged.
type LogLevel string

// Values implements enum.
func (LogLevel) Values() []string { return []string{"debug", "info", "warn", "error"} }

// LogFormat is how log entries are written: "console" is human-readable,
// "json" is one JSON object per line, "auto" picks console on a terminal.
type LogFormat string

// Values implements enum.
func (LogFormat) Values() []string { return []string{"auto", "console", "json"} }

// newLogger returns a logger that writes to w (standard error) as c says.
// It writes unbuffered, so Sync has nothing to flush but is still called on exit.
func newLogger(c LogConfig, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(string(c.Level))
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	tty := isTerminal(w)
	format := c.Format
	if format == "auto" {
		format = "json"
		if tty {
			format = "console"
		}
	}
	var enc zapcore.Encoder
	switch format {
	case "json":
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.RFC3339NanoTimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		ec := zap.NewDevelopmentEncoderConfig()
		if tty && os.Getenv("NO_COLOR") == "" {
			ec.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, fmt.Errorf("log.format: unknown format %q", c.Format)
	}
	out := zapcore.Lock(zapcore.AddSync(w))
	return zap.New(zapcore.NewCore(enc, out, level), zap.ErrorOutput(out)), nil
}

// isTerminal reports whether w is a terminal (a character device; close
// enough without a terminal library: the other character devices, such as
// /dev/null, discard the output anyway).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
