package spec

import (
	"bytes"
	"reflect"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Format renders a spec as a YAML document for people: fields in schema
// order, map keys sorted, a comment above each spec field saying what it
// does, and quotes wherever a YAML 1.1 reader could take a string for
// something else. Parse(Format(b)) gives back b.
func Format(b *Backup) []byte {
	if b == nil {
		return nil
	}
	root := encode(reflect.ValueOf(*b), false)
	root.HeadComment = "devopsellence-backup spec: the desired state of this app's backups.\n" +
		"After editing, run: devopsellence-backup plan"
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "spec" {
			continue
		}
		spec := root.Content[i+1]
		for j := 0; j+1 < len(spec.Content); j += 2 {
			spec.Content[j].HeadComment = specComment(spec.Content[j].Value)
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	// Encoding a tree of plain nodes cannot fail.
	_ = enc.Encode(root)
	_ = enc.Close()
	return buf.Bytes()
}

// specComment says in one line what a spec field is for.
func specComment(field string) string {
	switch field {
	case "service":
		return "Name of the backup service in devopsellence.yml (default backup)."
	case "image":
		return "Image of the backup service; it must carry restic and the database clients."
	case "environments":
		return "Environments to back up (default: the app's default_environment)."
	case "volumes":
		return "App volumes to back up, by source name; mounted at target (default /data/<name>)."
	case "paths":
		return "Extra absolute paths inside the backup service to back up."
	case "exclude":
		return "restic --exclude patterns for every file backup: /abs/path is anchored, *.log matches at any depth."
	case "excludeCaches":
		return "Leave out the contents of folders holding a CACHEDIR.TAG (restic --exclude-caches)."
	case "copies":
		return "Second repositories (3-2-1): each gets a restic copy after every backup, and its own retention."
	case "databases":
		return "Databases dumped consistently, each into its own snapshots."
	case "repository":
		return "Where restic stores snapshots; a URL holding credentials goes in the secret RESTIC_REPOSITORY; a local path needs a volume mounted there."
	case "secrets":
		return "Where secret values come from; a secret not listed here is asked for."
	case "retention":
		return "Which snapshots restic forget keeps."
	case "tags":
		return "Tags on every snapshot (default app:<project>, env:<environment>)."
	case "host":
		return "restic --host of every snapshot (default <project>-<environment>)."
	case "cacheDir":
		return "restic's cache inside the backup service (default /var/cache/restic)."
	case "env":
		return "Extra plain env for the backup service; secrets never go here."
	case "schedule":
		return "When the service backs up by itself: every interval, or daily at HH:MM UTC (default every 1d); manual turns it off."
	case "alerts":
		return "A dead-man's-switch ping URL and a failure webhook, both stored as secrets."
	case "check":
		return "restic check; readDataParts > 0 also reads one part of the data per run."
	case "drill":
		return "Restore drills: how many restored files are hashed and compared (default 20)."
	case "allowShrink":
		return "Accept a files backup holding less than half the bytes of the one before (else it is a finding, not a fresh backup)."
	case "restore":
		return "Restores into live data: how long their undo snapshots are kept (default 14d), how long a database restore waits for a lock (default 10s)."
	case "freshness":
		return "When status calls evidence stale (defaults: backup 26h, check 8d, drill 35d)."
	case "overrides":
		return "Per-environment changes: image, volumes, repository, retention and tags replace; secrets merge."
	}
	return ""
}

// encode turns a schema value into a node, leaving out empty omitempty fields
// the way encoding/json does.
func encode(v reflect.Value, plain bool) *yaml.Node {
	switch {
	case v.Type() == reflect.TypeFor[Schedule]() && v.Interface().(Schedule).Manual:
		return scalar(ScheduleManual, true)
	case v.Type() == reflect.TypeFor[Duration]():
		return scalar(Duration(v.Int()).String(), true)
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
		}
		return encode(v.Elem(), plain)
	case v.Kind() == reflect.String:
		return scalar(v.String(), plain)
	case v.Kind() == reflect.Int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v.Int(), 10)}
	case v.Kind() == reflect.Bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v.Bool())}
	case v.Kind() == reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for i := 0; i < v.Len(); i++ {
			n.Content = append(n.Content, encode(v.Index(i), false))
		}
		if len(n.Content) == 0 {
			n.Style = yaml.FlowStyle
		}
		return n
	case v.Kind() == reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		for _, k := range keys {
			n.Content = append(n.Content, scalar(k, false), encode(v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())), false))
		}
		if len(n.Content) == 0 {
			n.Style = yaml.FlowStyle
		}
		return n
	case v.Kind() == reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := jsonName(f)
			if name == "" {
				continue
			}
			fv := v.Field(i)
			// An empty credentials list is meaningful ("none"); every other
			// empty omitempty field is the same as an absent one.
			keep := t == reflect.TypeFor[Repository]() && name == "credentials" && !fv.IsNil()
			if omitEmpty(f) && fv.IsZero() || omitEmpty(f) && emptyCollection(fv) && !keep {
				continue
			}
			n.Content = append(n.Content, scalar(name, false), encode(fv, name == "at" || name == "keepWithin"))
		}
		if len(n.Content) == 0 {
			n.Style = yaml.FlowStyle
		}
		return n
	}
	panic("spec: Format does not handle " + v.Type().String())
}

func omitEmpty(f reflect.StructField) bool {
	_, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
	return strings.Contains(","+opts+",", ",omitempty,")
}

func emptyCollection(v reflect.Value) bool {
	return (v.Kind() == reflect.Slice || v.Kind() == reflect.Map) && v.Len() == 0
}

// scalar makes a string node, quoted unless it reads as the same string in
// YAML 1.1 (sigs.k8s.io/yaml) and YAML 1.2 (yaml.v3). plain allows values
// known to be safe unquoted (durations, HH:MM) to start with a digit.
func scalar(s string, plain bool) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if !(plain && plainValue(s) || plainWord(s)) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// plainWord: starts with a letter, "/" or "_", holds no character YAML
// treats specially, and is none of YAML 1.1's booleans and nulls.
func plainWord(s string) bool {
	if s == "" || !(isLetter(s[0]) || s[0] == '/' || s[0] == '_') || s[len(s)-1] == ':' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isLetter(c) || c >= '0' && c <= '9' || strings.IndexByte("_./:@+=-", c) >= 0) {
			return false
		}
	}
	switch strings.ToLower(s) {
	case "y", "yes", "n", "no", "true", "false", "on", "off", "null":
		return false
	}
	return true
}

// plainValue: digits, letters, "." and ":" only, not ending in ":", and not
// all digits and dots (a number); durations and times of day qualify.
func plainValue(s string) bool {
	letters := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isLetter(c):
			letters = true
		case c >= '0' && c <= '9' || c == '.' || c == ':':
		default:
			return false
		}
	}
	if s == "" || s[len(s)-1] == ':' || strings.ContainsAny(s, "eE") {
		return false
	}
	return letters || timeOfDay(s)
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
