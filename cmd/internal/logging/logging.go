package logging

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Formats accepted by --log-format.
const (
	FormatConsole = "console"
	FormatJSON    = "json"
)

// Options configure the logger.
type Options struct {
	// Verbosity is -v: 0 what an operator wants, 1 decisions and every
	// external command, 2 payload tracing.
	Verbosity int
	// Format is console (the default) or json.
	Format string
	// Color allows ANSI colours in console output (stderr is a terminal and
	// NO_COLOR is not set).
	Color bool
}

// New returns a logger writing to w.
func New(w io.Writer, o Options) (logr.Logger, error) {
	if o.Verbosity < 0 || o.Verbosity > 2 {
		return logr.Discard(), fmt.Errorf("-v %d: want 0, 1 or 2", o.Verbosity)
	}
	format := o.Format
	switch format {
	case "", FormatConsole:
		format = FormatConsole
	case FormatJSON:
	default:
		return logr.Discard(), fmt.Errorf("--log-format %q: want console or json", o.Format)
	}

	cfg := zapcore.EncoderConfig{
		TimeKey:        "ts",
		LevelKey:       "level",
		NameKey:        "logger",
		MessageKey:     "msg",
		StacktraceKey:  "",
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeLevel:    zapcore.LowercaseLevelEncoder,
		EncodeTime:     zapcore.RFC3339TimeEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
	}
	var enc zapcore.Encoder
	if format == FormatConsole {
		cfg.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05")
		cfg.EncodeLevel = levelName
		if o.Color {
			cfg.EncodeLevel = colorLevelName
		}
		enc = zapcore.NewConsoleEncoder(cfg)
	} else {
		enc = zapcore.NewJSONEncoder(cfg)
	}
	// logr V(n) maps to zap level -n.
	level := zap.NewAtomicLevelAt(zapcore.Level(-o.Verbosity))
	// Locked: commands log from several goroutines (one per environment).
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)
	if format == FormatConsole {
		core = wordsCore{core}
	}
	return zapr.NewLogger(zap.New(core)), nil
}

// wordsCore shows each constant message as words for people
// ("patchedConfig" as "patched config"); JSON keeps the constant.
type wordsCore struct{ zapcore.Core }

func (c wordsCore) With(fields []zapcore.Field) zapcore.Core { return wordsCore{c.Core.With(fields)} }

func (c wordsCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c wordsCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	e.Message = Words(e.Message)
	return c.Core.Write(e, fields)
}

// Words splits a lowerCamelCase message into lower-case words.
func Words(msg string) string {
	var b strings.Builder
	prev := rune(0)
	for _, r := range msg {
		if unicode.IsUpper(r) && (unicode.IsLower(prev) || unicode.IsDigit(prev)) {
			b.WriteByte(' ')
		}
		if unicode.IsUpper(r) && prev != 0 && prev != ' ' {
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// levelName prints logr's view of zap levels: V(1) and V(2) show as debug.
func levelName(l zapcore.Level, enc zapcore.PrimitiveArrayEncoder) {
	enc.AppendString(name(l))
}

func colorLevelName(l zapcore.Level, enc zapcore.PrimitiveArrayEncoder) {
	color := map[string]string{"error": "\x1b[31m", "warn": "\x1b[33m", "info": "\x1b[34m", "debug": "\x1b[90m"}[name(l)]
	enc.AppendString(color + name(l) + "\x1b[0m")
}

func name(l zapcore.Level) string {
	switch {
	case l >= zapcore.ErrorLevel:
		return "error"
	case l == zapcore.WarnLevel:
		return "warn"
	case l == zapcore.InfoLevel:
		return "info"
	default:
		return "debug"
	}
}
