package dbtool

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestParseReadsURLsAsTheirAuthorsMeantThem(t *testing.T) {
	tests := []struct {
		engine                   Engine
		raw                      string
		user, password, host, db string
		port                     int
		params, redacted         string
	}{
		{Postgres, "postgresql://app:p%40ss%3Aw%2Frd%25@127.0.0.1:5433/appdb?sslmode=require",
			"app", "p@ss:w/rd%", "127.0.0.1", "appdb", 5433, "sslmode=require", "postgresql://app@127.0.0.1:5433/appdb?sslmode=require"},
		{Postgres, "postgres://app@db/appdb", "app", "", "db", "appdb", 5432, "", "postgres://app@db:5432/appdb"},
		{Postgres, "postgres://app:p@ss@db/appdb", "app", "p@ss", "db", "appdb", 5432, "", "postgres://app@db:5432/appdb"},
		{Postgres, "postgres:///appdb?host=/run/postgresql&port=6432", "", "", "/run/postgresql", "appdb", 6432, "", "postgres:///appdb?host=%2Frun%2Fpostgresql&port=6432"},
		{Postgres, "postgres://u@h/d?password=S3cr%2Ft&application_name=x", "u", "S3cr/t", "h", "d", 5432, "application_name=x", "postgres://u@h:5432/d?application_name=x"},
		{MySQL, "mysql://app:pw%22%5C@db/shop", "app", `pw"\`, "db", "shop", 3306, "", "mysql://app@db:3306/shop"},
		{MariaDB, "mysql2://app:pw@db:3307/shop?encoding=utf8mb4", "app", "pw", "db", "shop", 3307, "encoding=utf8mb4", "mysql2://app@db:3307/shop?encoding=utf8mb4"},
		{Redis, "rediss://:s3cret@cache:6380/0", "", "s3cret", "cache", "0", 6380, "", "rediss://cache:6380/0"},
		{Redis, "redis://cache", "", "", "cache", "", 6379, "", "redis://cache:6379"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			c, err := Parse(tt.engine, tt.raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if c.User != tt.user || c.password != tt.password || c.Host != tt.host || c.Database != tt.db || c.Port != tt.port {
				t.Errorf("got user %q password %q host %q db %q port %d", c.User, c.password, c.Host, c.Database, c.Port)
			}
			if got := c.Params.Encode(); got != tt.params {
				t.Errorf("params %q, want %q", got, tt.params)
			}
			if tt.redacted != "" && c.Redacted() != tt.redacted {
				t.Errorf("Redacted %q, want %q", c.Redacted(), tt.redacted)
			}
			if c.HasPassword() != (tt.password != "") {
				t.Errorf("HasPassword %v", c.HasPassword())
			}
		})
	}
}

// parts lists every piece of s of at least n characters.
func parts(s string, n int) []string {
	var out []string
	for i := 0; i+n <= len(s); i++ {
		out = append(out, s[i:i+n])
	}
	return out
}

func TestParseRefusesWhatItCannotReadWithoutShowingAnyOfIt(t *testing.T) {
	tests := []struct {
		name, engine, raw string
		secret            []string // the parts that must not show
	}{
		{"keyword DSN", "postgres", "host=dx8vbw user=ku7rmq password=Qz9Xk7Vw dbname=fy3jpl", []string{"dx8vbw", "ku7rmq", "Qz9Xk7Vw", "fy3jpl"}},
		{"unencoded / in the password", "postgres", "postgresql://ku7rmq:Qz9X/k7Vw@dx8vbw:5432/fy3jpl", []string{"ku7rmq", "Qz9X/k7Vw", "dx8vbw", "fy3jpl"}},
		{"unencoded ? in the password", "postgres", "postgresql://ku7rmq:Qz9X?k7Vw@dx8vbw/fy3jpl", []string{"ku7rmq", "Qz9X?k7Vw", "dx8vbw", "fy3jpl"}},
		{"unencoded # in the password", "mysql", "mysql://ku7rmq:12#Qz9Xk7@dx8vbw/fy3jpl", []string{"ku7rmq", "Qz9Xk7", "dx8vbw", "fy3jpl"}},
		{"digits then / in the password", "postgres", "postgres://ku7rmq:1234/Qz9Xk7@dx8vbw/fy3jpl", []string{"ku7rmq", "Qz9Xk7", "dx8vbw", "fy3jpl"}},
		{"bad percent escape", "postgres", "postgres://ku7rmq:Qz9X%zzk7Vw@dx8vbw/fy3jpl", []string{"ku7rmq", "Qz9X%zzk7Vw", "dx8vbw", "fy3jpl"}},
		{"another engine's scheme", "postgres", "mysql://ku7rmq:Qz9Xk7Vw@dx8vbw/fy3jpl", []string{"ku7rmq", "Qz9Xk7Vw", "dx8vbw", "fy3jpl"}},
		{"a port that is not a number", "redis", "redis://:Qz9Xk7Vw@dx8vbw:99999", []string{"Qz9Xk7Vw", "dx8vbw"}},
		{"control character", "postgres", "postgres://ku7rmq:Qz9X\x01k7Vw@dx8vbw/fy3jpl", []string{"ku7rmq", "Qz9X\x01k7Vw", "dx8vbw", "fy3jpl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSecret(Engine(tt.engine), "DATABASE_URL", tt.raw)
			if ClassOf(err) != ClassBadURL {
				t.Fatalf("class %q (%v), want bad_url", ClassOf(err), err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "DATABASE_URL") || !strings.Contains(msg, "percent-encode") {
				t.Errorf("the message should name the secret and say to percent-encode: %s", msg)
			}
			for _, s := range tt.secret {
				for _, p := range parts(s, 4) {
					if strings.Contains(msg, p) {
						t.Errorf("the message shows %q of the value: %s", p, msg)
					}
				}
			}
		})
	}
}

func TestConnNeverPrintsItsPassword(t *testing.T) {
	c, err := ParseSecret(Postgres, "DATABASE_URL", "postgresql://app:Qz9%2FXk7Vw@db/appdb")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(c)
	for _, got := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s", c), string(js), c.Redacted()} {
		if strings.Contains(got, "Qz9") || strings.Contains(got, "Xk7Vw") {
			t.Errorf("printed the password: %s", got)
		}
	}
}

func TestFragmentsCoverThePasswordInEveryForm(t *testing.T) {
	c, err := Parse(Postgres, "postgresql://app:Qz9k%40Xk7v%3Awq%2Frdzz%25-Vwxy@db/appdb")
	if err != nil {
		t.Fatal(err)
	}
	frags := map[string]bool{}
	for _, f := range c.Fragments() {
		frags[f] = true
		if len(f) < 4 {
			t.Errorf("fragment %q is shorter than 4", f)
		}
	}
	for _, want := range []string{
		"Qz9k%40Xk7v%3Awq%2Frdzz%25-Vwxy", // as written
		"Qz9k@Xk7v:wq/rdzz%-Vwxy",         // decoded
		"app:Qz9k@Xk7v:wq/rdzz%-Vwxy",     // the user:password pair
		"Qz9k%40Xk7v%3Awq%2Frdzz%25-Vwxy", // re-encoded for a query
		"Qz9k@Xk7v:wq%2Frdzz%25-Vwxy",     // re-encoded for a path
		"Qz9k", "Xk7v", "rdzz", "-Vwxy",   // the pieces between reserved characters
	} {
		if !frags[want] {
			t.Errorf("Fragments lacks %q", want)
		}
	}
	if frags["wq"] || frags["app"] || frags["db"] || frags["appdb"] {
		t.Errorf("Fragments holds a short piece or a part that is not secret: %q", c.Fragments())
	}
}
