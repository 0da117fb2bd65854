package yamlpatch

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/golden"
)

const fixtures = "../../fixtures/yamlpatch"

const marker = MarkerPrefix + "; edit devopsellence.backup.yml instead"

func secretRef(name string) Map {
	return Map{{Key: "name", Value: Scalar(name)}, {Key: "secret", Value: Scalar("devopsellence://plaintext/" + name)}}
}

// backupService is the block the tool manages for a typical app.
var backupService = Map{
	{Key: "image", Value: Scalar("restic/restic:0.17.3")},
	{Key: "command", Value: List{Scalar("sh"), Scalar("-lc"), Scalar("sleep infinity")}},
	{Key: "env", Value: Map{
		{Key: "BACKUP_PATHS", Value: Scalar("/data/app_storage")},
		{Key: "RESTIC_REPOSITORY", Value: Scalar("s3:s3.amazonaws.com/shop-backups")},
		{Key: "RESTIC_COMPRESSION", Value: Scalar("auto")},
	}},
	{Key: "secret_refs", Value: List{secretRef("RESTIC_PASSWORD"), secretRef("AWS_ACCESS_KEY_ID"), secretRef("AWS_SECRET_ACCESS_KEY")}},
	{Key: "volumes", Value: List{Map{{Key: "source", Value: Scalar("app_storage")}, {Key: "target", Value: Scalar("/data/app_storage")}}}},
}

// stagingOverlay is the environment overlay of the backup service.
var stagingOverlay = Map{
	{Key: "env", Value: Map{{Key: "RESTIC_REPOSITORY", Value: Scalar("s3:s3.amazonaws.com/shop-backups-staging")}}},
	{Key: "secret_refs", Value: List{secretRef("RESTIC_PASSWORD")}},
}

// trickyScalars holds strings that only read back when quoted or written as
// block scalars.
var trickyScalars = Map{
	{Key: "image", Value: Scalar("restic/restic:0.17.3")},
	{Key: "env", Value: Map{
		{Key: "BOOL", Value: Scalar("true")},
		{Key: "NUMBER", Value: Scalar("3000")},
		{Key: "FLOAT", Value: Scalar("1e3")},
		{Key: "NULL", Value: Scalar("null")},
		{Key: "TILDE", Value: Scalar("~")},
		{Key: "EMPTY", Value: Scalar("")},
		{Key: "COLON", Value: Scalar("a: b")},
		{Key: "URL", Value: Scalar("s3:s3.amazonaws.com/x")},
		{Key: "HASH", Value: Scalar("a #b")},
		{Key: "HASHLESS", Value: Scalar("a#b")},
		{Key: "SPACES", Value: Scalar("  padded  ")},
		{Key: "DASH", Value: Scalar("-")},
		{Key: "DASH_SPACE", Value: Scalar("- item")},
		{Key: "DASH_WORD", Value: Scalar("-lc")},
		{Key: "STAR", Value: Scalar("*alias")},
		{Key: "AMP", Value: Scalar("&anchor")},
		{Key: "BANG", Value: Scalar("!tag")},
		{Key: "PERCENT", Value: Scalar("%x")},
		{Key: "AT", Value: Scalar("@x")},
		{Key: "BACKTICK", Value: Scalar("`x`")},
		{Key: "BRACE", Value: Scalar("{x}")},
		{Key: "BRACKET", Value: Scalar("[x]")},
		{Key: "QUOTES", Value: Scalar(`say "hi" \o/`)},
		{Key: "TAB", Value: Scalar("a\tb")},
		{Key: "DATE", Value: Scalar("2026-06-01")},
		{Key: "OCTAL", Value: Scalar("0o17")},
		{Key: "UNICODE", Value: Scalar("café ☕")},
		{Key: "CONTROL", Value: Scalar("bell\a")},
		{Key: "DOCUMENT", Value: Scalar("---")},
		{Key: "SCRIPT", Value: Scalar("set -eu\nrestic backup /data\n")},
		{Key: "SCRIPT_NO_NEWLINE", Value: Scalar("line one\n  indented two")},
		{Key: "LEADING_SPACE_LINES", Value: Scalar("  indented first\nsecond\n")},
		{Key: "TRAILING_NEWLINES", Value: Scalar("two\n\n")},
		{Key: "CRLF", Value: Scalar("a\r\nb")},
		{Key: "true", Value: Scalar("key that is a bool")},
		{Key: "<<", Value: Scalar("merge-looking key")},
	}},
	{Key: "command", Value: List{Scalar("sh"), Scalar("-lc"), Scalar("restic snapshots\nsleep infinity")}},
	{Key: "args", Value: List{}},
	{Key: "ports", Value: List{Map{}, List{Scalar("nested"), Scalar("list")}}},
	{Key: "healthcheck", Value: Map{}},
}

type goldenCase struct {
	name  string
	edits []Edit
}

var (
	setBackup     = Edit{Path: []string{"services", "backup"}, Value: backupService, Comment: marker}
	setStaging    = Edit{Path: []string{"environments", "staging", "services", "backup"}, Value: stagingOverlay, Comment: marker}
	deleteBackup  = Edit{Path: []string{"services", "backup"}}
	deleteStaging = Edit{Path: []string{"environments", "staging", "services", "backup"}}
)

var goldenCases = []goldenCase{
	{"insert-service", []Edit{setBackup}},
	{"anchors-aliases", []Edit{setBackup}},
	{"replace-alias-entry", []Edit{setBackup}},
	{"replace-merge-entry", []Edit{setBackup}},
	{"flow-elsewhere", []Edit{setBackup}},
	{"flow-parent", []Edit{setBackup, setStaging}},
	{"flow-parent-replace", []Edit{setBackup}},
	{"flow-entry", []Edit{setBackup}},
	{"crlf", []Edit{setBackup, setStaging}},
	{"indent-4", []Edit{setBackup, setStaging}},
	{"indentless-sequences", []Edit{setBackup}},
	{"no-trailing-newline-append", []Edit{setBackup, setStaging}},
	{"no-trailing-newline-replace", []Edit{setBackup}},
	{"document-markers", []Edit{setBackup, setStaging}},
	{"comments", []Edit{setBackup, setStaging}},
	{"replace-handwritten", []Edit{setBackup}},
	{"delete-service", []Edit{deleteBackup}},
	{"delete-cascade", []Edit{deleteStaging}},
	{"delete-cascade-partial", []Edit{deleteStaging}},
	{"missing-parents-top", []Edit{setStaging}},
	{"missing-parents-nested", []Edit{setStaging}},
	{"null-parent", []Edit{setStaging}},
	{"null-parent-tilde", []Edit{setStaging}},
	{"tricky-scalars", []Edit{{Path: []string{"services", "backup"}, Value: trickyScalars, Comment: marker}}},
	{"block-scalar-neighbors", []Edit{deleteBackup, {Path: []string{"services", "db"}, Value: Map{{Key: "image", Value: Scalar("postgres:17")}}}}},
	{"multiple-edits", []Edit{setBackup, setStaging, {Path: []string{"environments", "production", "services", "backup"}, Value: stagingOverlay, Comment: marker}}},
	{"noop", []Edit{{Path: []string{"services", "backup"}, Value: Map{
		{Key: "command", Value: List{Scalar("sh"), Scalar("-lc"), Scalar("sleep infinity")}},
		{Key: "image", Value: Scalar("restic/restic:0.17.3")},
	}, Comment: marker}}},
}

func TestApplyMatchesGoldenFilesAndKeepsItsProperties(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(fixtures, tc.name)
			in, err := os.ReadFile(filepath.Join(dir, "input.yml"))
			if err != nil {
				t.Fatal(err)
			}
			orig := bytes.Clone(in)
			got, err := Apply(in, tc.edits...)
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if !bytes.Equal(in, orig) {
				t.Fatal("apply modified its input")
			}
			golden.Check(t, filepath.Join(dir, "want.yml"), got)
			if err := checkProperties(in, tc.edits, got); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestGoldenCasesCoverEveryFixture(t *testing.T) {
	dirs, err := os.ReadDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, tc := range goldenCases {
		names[tc.name] = true
	}
	for _, d := range dirs {
		if d.IsDir() && !names[d.Name()] {
			t.Errorf("fixture %s has no golden case", d.Name())
		}
	}
}
