package spec

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseDurationAcceptsGoSyntaxAndDays(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"26h", 26 * time.Hour},
		{"8d", 8 * day},
		{"1d12h", 36 * time.Hour},
		{"90m", 90 * time.Minute},
		{"1.5d", 36 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{"500ms", 500 * time.Millisecond},
		{"0", 0},
		{"-2d", -2 * day},
		{"+1h", time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if err != nil || got.Std() != tt.want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got.Std(), err, tt.want)
			}
		})
	}
}

func TestParseDurationRejectsWhatIsNotADuration(t *testing.T) {
	for _, in := range []string{"", "d", "5", "1h5", "1w", "soon", "-", "1..5h", "h1", "107000d", "106751d24h", "1 d"} {
		t.Run(in, func(t *testing.T) {
			if got, err := ParseDuration(in); err == nil {
				t.Errorf("ParseDuration(%q) = %v, want an error", in, got.Std())
			}
		})
	}
}

func TestDurationStringIsCompact(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{8 * day, "8d"},
		{26 * time.Hour, "26h"},
		{36 * time.Hour, "36h"},
		{90 * time.Minute, "1h30m"},
		{5 * time.Minute, "5m"},
		{90 * time.Second, "1m30s"},
		{1500 * time.Millisecond, "1.5s"},
		{0, "0s"},
		{-day, "-1d"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := Duration(tt.in).String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			back, err := ParseDuration(tt.want)
			if err != nil || back.Std() != tt.in {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.want, back.Std(), err, tt.in)
			}
		})
	}
}

func TestDurationIsAStringInJSON(t *testing.T) {
	var f Freshness
	if err := json.Unmarshal([]byte(`{"backup":"1d12h","check":null}`), &f); err != nil {
		t.Fatal(err)
	}
	if f.Backup.Std() != 36*time.Hour || f.Check != 0 {
		t.Errorf("decoded %v", f)
	}
	out, err := json.Marshal(Freshness{Backup: Duration(8 * day)})
	if err != nil || string(out) != `{"backup":"8d"}` {
		t.Errorf("Marshal = %s, %v", out, err)
	}
	for _, in := range []string{`{"backup":26}`, `{"backup":"soon"}`} {
		if err := json.Unmarshal([]byte(in), &f); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", in)
		}
	}
}

func FuzzDuration(f *testing.F) {
	for _, s := range []string{"26h", "8d", "1d12h", "90m", "1.5s", "-3d", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v; its String %q reads back as %v, %v", s, d.Std(), d.String(), back.Std(), err)
		}
	})
}
