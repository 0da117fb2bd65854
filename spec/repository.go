package spec

import (
	"fmt"
	"slices"
	"strings"
)

// Backend names as restic spells them in repository strings.
const (
	backendList     = "azure, b2, gs, local, rclone, rest, s3, sftp, swift"
	backendPrefixes = "azure:, b2:, gs:, local:, rclone:, rest:, s3:, sftp:, swift:"
	remotePrefixes  = "s3:, b2:, rest:, sftp:, azure:, gs:, swift:, rclone:"
)

func knownBackend(name string) bool {
	switch name {
	case "azure", "b2", "gs", "local", "rclone", "rest", "s3", "sftp", "swift":
		return true
	}
	return false
}

// backendOf applies restic's rule: the text before the first ":" names the
// backend when it is a known one; a string without ":" (or starting with "/")
// is a local path; anything else restic rejects, and so do we ("").
func backendOf(url string) string {
	if url == "" {
		return ""
	}
	if strings.HasPrefix(url, "/") {
		return "local"
	}
	prefix, _, found := strings.Cut(url, ":")
	if !found {
		return "local"
	}
	if knownBackend(prefix) {
		return prefix
	}
	return ""
}

// Backend is the repository's backend: from the URL when it is written in the
// spec, else the declared Type; "" when unknown.
func (r Repository) Backend() string {
	if r.URL != "" {
		return backendOf(r.URL)
	}
	if knownBackend(r.Type) {
		return r.Type
	}
	return ""
}

// LocalPath is the path of a local repository written in the spec, "" for
// any other.
func (r Repository) LocalPath() string {
	if r.URL == "" || backendOf(r.URL) != "local" {
		return ""
	}
	return strings.TrimPrefix(r.URL, "local:")
}

// CredentialSecrets names the secrets the backend reads its credentials from,
// besides RESTIC_PASSWORD. Credentials replaces the derived list when set (an
// empty list means none: instance roles, rest-server without auth, ...).
//
// rest derives none: the server may run without auth, and a URL with
// user:pass must be secret anyway; list RESTIC_REST_USERNAME and
// RESTIC_REST_PASSWORD in credentials for a server that wants them.
func (r Repository) CredentialSecrets() []string {
	if r.Credentials != nil {
		return slices.Clone(r.Credentials)
	}
	switch r.Backend() {
	case "s3":
		return []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
	case "b2":
		return []string{"B2_ACCOUNT_ID", "B2_ACCOUNT_KEY"}
	case "azure":
		return []string{"AZURE_ACCOUNT_NAME", "AZURE_ACCOUNT_KEY"}
	case "gs":
		return []string{"GOOGLE_PROJECT_ID", "GOOGLE_ACCESS_TOKEN"}
	case "swift":
		return []string{"OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME"}
	}
	return nil
}

// Display is the repository's location with no secret in it, for plans and
// status output.
func (r Repository) Display() string {
	switch {
	case r.URL != "":
		return Redact(r.URL)
	case r.URLSecret != "" && r.Type != "":
		return fmt.Sprintf("(secret %s, type %s)", r.URLSecret, r.Type)
	case r.URLSecret != "":
		return fmt.Sprintf("(secret %s)", r.URLSecret)
	}
	return ""
}

// Redact shows a repository string without anything that may be a secret:
// URL userinfo is dropped whole (user too), and so are query and fragment;
// an rclone repository shrinks to its remote name, or to its backend type
// for an on-the-fly connection string (rclone::s3).
func Redact(url string) string {
	switch backendOf(url) {
	case "rclone":
		rest := strings.TrimPrefix(url, "rclone:")
		rest, _, _ = strings.Cut(rest, ",")
		if strings.HasPrefix(rest, ":") {
			typ, _, _ := strings.Cut(rest[1:], ":")
			return "rclone::" + typ
		}
		remote, _, _ := strings.Cut(rest, ":")
		return "rclone:" + remote
	case "local", "b2", "azure", "gs", "swift":
		if !strings.Contains(url, "://") {
			return url
		}
	}
	head, auth, tail := authority(url)
	if _, host, found := cutLast(auth, "@"); found {
		auth = host
	}
	if strings.Contains(url, "://") {
		tail, _, _ = strings.Cut(tail, "?")
		tail, _, _ = strings.Cut(tail, "#")
	}
	return head + auth + tail
}

// EmbedsCredentials reports a repository string that carries a secret: URL
// userinfo with a password (rest, sftp and any scheme://), any userinfo at all
// for s3 (restic ignores it there), and rclone connection strings with
// key=value parameters.
func EmbedsCredentials(url string) bool {
	backend := backendOf(url)
	if backend == "rclone" {
		rest := strings.TrimPrefix(url, "rclone:")
		i := strings.IndexByte(rest, ',')
		return i >= 0 && strings.Contains(rest[i:], "=")
	}
	_, auth, _ := authority(url)
	user, _, found := cutLast(auth, "@")
	if !found {
		return false
	}
	return backend == "s3" || strings.Contains(user, ":")
}

// authority splits a repository string around the part that may hold
// userinfo: after "://" up to the next "/", "?" or "#"; for the scheme-less
// s3 and sftp forms, after the backend prefix up to the first "/".
func authority(url string) (head, auth, tail string) {
	if i := strings.Index(url, "://"); i >= 0 {
		head, rest := url[:i+3], url[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		return head, rest[:end], rest[end:]
	}
	switch backend := backendOf(url); backend {
	case "s3", "sftp", "":
		prefix, rest, found := strings.Cut(url, ":")
		if !found {
			return "", "", url
		}
		end := strings.IndexByte(rest, '/')
		if end < 0 {
			end = len(rest)
		}
		return prefix + ":", rest[:end], rest[end:]
	}
	return url, "", ""
}

// cutLast splits s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
