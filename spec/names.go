package spec

import (
	"strings"
	"unicode"
)

// The name and format rules of the schema, as predicates.

func listOr(items []string, none string) string {
	if len(items) == 0 {
		return none
	}
	return strings.Join(items, ", ")
}

// managed reports names devopsellence-backup sets itself.
func managed(name string) bool {
	return strings.HasPrefix(name, "BACKUP_") ||
		strings.HasPrefix(name, RepositorySecret) ||
		strings.HasPrefix(name, PasswordSecret) ||
		name == "RESTIC_CACHE_DIR" || name == "RESTIC_HOST"
}

func hasSpace(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0
}

func envVarName(s string) bool {
	for i, r := range s {
		if !(r >= 'A' && r <= 'Z' || r == '_' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

func dnsLabel(s string) bool {
	if len(s) > 63 || s == "" || s[len(s)-1] == '-' {
		return false
	}
	return lowerName(s, "-")
}

func serviceName(s string) bool { return lowerName(s, "_.-") }
func envName(s string) bool     { return lowerName(s, "_-") }

// lowerName: a lower-case letter or digit, then those or the extra characters.
func lowerName(s, extra string) bool {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || i > 0 && strings.ContainsRune(extra, r)) {
			return false
		}
	}
	return s != ""
}

func volumeName(s string) bool {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || i > 0 && strings.ContainsRune("_.-", r)) {
			return false
		}
	}
	return s != ""
}

// IsOnePasswordRef reports whether s is a 1Password reference the schema
// accepts: op://vault/item/field, or op://vault/item/section/field.
func IsOnePasswordRef(s string) bool { return opRef(s) }

// IsEnvVarName reports whether s may name a secret or an env var: [A-Z_][A-Z0-9_]*.
func IsEnvVarName(s string) bool { return envVarName(s) }

// opRef checks op://vault/item/field, allowing a section (op://vault/item/section/field).
func opRef(s string) bool {
	rest, ok := strings.CutPrefix(s, "op://")
	if !ok {
		return false
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 3 {
		return false
	}
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			return false
		}
	}
	return true
}

// resticDuration is restic's --keep-within syntax: (\d+[ymdh])+.
func resticDuration(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("ymdh", r) && digits > 0:
			digits = 0
		default:
			return false
		}
	}
	return s != "" && digits == 0
}

func timeOfDay(s string) bool {
	if len(s) != 5 || s[2] != ':' {
		return false
	}
	for _, r := range s[:2] + s[3:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	return h < 24 && m < 60
}
