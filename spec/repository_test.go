package spec

import (
	"reflect"
	"strings"
	"testing"
)

// TestRepositoryForms walks every repository string form of restic.md §3.
func TestRepositoryForms(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		backend string
		creds   []string
		shown   string
		embeds  bool
	}{
		{"an absolute local path", "/srv/restic-repo", "local", nil, "/srv/restic-repo", false},
		{"a relative local path", "relative/dir", "local", nil, "relative/dir", false},
		{"a local: path", "local:/srv/repo", "local", nil, "local:/srv/repo", false},
		{"sftp with user and host", "sftp:user@host:/srv/repo", "sftp", nil, "sftp:host:/srv/repo", false},
		{"sftp with a relative path", "sftp:host:relative", "sftp", nil, "sftp:host:relative", false},
		{"sftp with a user@domain user", "sftp:user@example.com@host:/srv/repo", "sftp", nil, "sftp:host:/srv/repo", false},
		{"sftp with user and password", "sftp:user:hunter2@host:/srv/repo", "sftp", nil, "sftp:host:/srv/repo", true},
		{"an sftp URL", "sftp://user@host:2222//srv/repo", "sftp", nil, "sftp://host:2222//srv/repo", false},
		{"an sftp URL with a password", "sftp://user:hunter2@host:2222//srv/repo", "sftp", nil, "sftp://host:2222//srv/repo", true},
		{"rest over http", "rest:http://host:8000/", "rest", nil, "rest:http://host:8000/", false},
		{"rest over https with a path", "rest:https://host/repo/", "rest", nil, "rest:https://host/repo/", false},
		{"rest with a user only", "rest:https://user@host/repo/", "rest", nil, "rest:https://host/repo/", false},
		{"rest with user and password", "rest:https://user:hunter2@host/repo/", "rest", nil, "rest:https://host/repo/", true},
		{"rest with a query", "rest:https://host/repo/?token=hunter2#frag", "rest", nil, "rest:https://host/repo/", false},
		{"rest over a unix socket", "rest:http+unix:///tmp/rest.sock:/repo/", "rest", nil, "rest:http+unix:///tmp/rest.sock:/repo/", false},
		{"s3 on AWS", "s3:s3.us-east-1.amazonaws.com/bucket/prefix", "s3", []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, "s3:s3.us-east-1.amazonaws.com/bucket/prefix", false},
		{"s3 on MinIO over https", "s3:https://minio:9000/bucket", "s3", []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, "s3:https://minio:9000/bucket", false},
		{"s3 over http with userinfo", "s3:http://AKIA:hunter2@minio:9000/bucket/prefix", "s3", []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, "s3:http://minio:9000/bucket/prefix", true},
		{"s3 over http with a user only", "s3:http://AKIA@minio:9000/bucket", "s3", []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, "s3:http://minio:9000/bucket", true},
		{"an s3:// URL", "s3://host/bucket/prefix", "s3", []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, "s3://host/bucket/prefix", false},
		{"scheme-less s3 with userinfo", "s3:AKIA:hunter2@host/bucket", "s3", []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, "s3:host/bucket", true},
		{"b2", "b2:bucket:path/prefix", "b2", []string{"B2_ACCOUNT_ID", "B2_ACCOUNT_KEY"}, "b2:bucket:path/prefix", false},
		{"azure", "azure:container:/prefix", "azure", []string{"AZURE_ACCOUNT_NAME", "AZURE_ACCOUNT_KEY"}, "azure:container:/prefix", false},
		{"gs", "gs:bucket:/prefix", "gs", []string{"GOOGLE_PROJECT_ID", "GOOGLE_ACCESS_TOKEN"}, "gs:bucket:/prefix", false},
		{"swift", "swift:container:/prefix", "swift", []string{"OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME"}, "swift:container:/prefix", false},
		{"an rclone remote", "rclone:b2prod:bucket/app", "rclone", nil, "rclone:b2prod", false},
		{"an rclone connection string", "rclone::s3,access_key_id=AKIA,secret_access_key=hunter2:bucket/path", "rclone", nil, "rclone::s3", true},
		{"an rclone connection string without parameters", "rclone::local:/srv/repo", "rclone", nil, "rclone::local", false},
		{"an rclone remote with parameters", "rclone:remote,pass=hunter2:path", "rclone", nil, "rclone:remote", true},
		{"an unknown backend", "ftp://user:hunter2@host/repo", "", nil, "ftp://host/repo", true},
		{"an unknown prefix", "foo:bar", "", nil, "foo:bar", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Repository{URL: tt.url}
			if got := r.Backend(); got != tt.backend {
				t.Errorf("Backend() = %q, want %q", got, tt.backend)
			}
			if got := r.CredentialSecrets(); !reflect.DeepEqual(got, tt.creds) {
				t.Errorf("CredentialSecrets() = %q, want %q", got, tt.creds)
			}
			if got := r.Display(); got != tt.shown {
				t.Errorf("Display() = %q, want %q", got, tt.shown)
			}
			if got := Redact(tt.url); got != tt.shown {
				t.Errorf("Redact() = %q, want %q", got, tt.shown)
			}
			if strings.Contains(Redact(tt.url), "hunter2") {
				t.Errorf("Redact(%q) keeps the password", tt.url)
			}
			if got := EmbedsCredentials(tt.url); got != tt.embeds {
				t.Errorf("EmbedsCredentials() = %v, want %v", got, tt.embeds)
			}
		})
	}
}

func TestRepositoryWithSecretURL(t *testing.T) {
	tests := []struct {
		name    string
		repo    Repository
		backend string
		creds   []string
		shown   string
	}{
		{"an s3 type", Repository{URLSecret: RepositorySecret, Type: "s3"}, "s3", []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, "(secret RESTIC_REPOSITORY, type s3)"},
		{"a rest type derives no credentials", Repository{URLSecret: RepositorySecret, Type: "rest"}, "rest", nil, "(secret RESTIC_REPOSITORY, type rest)"},
		{"an unknown type", Repository{URLSecret: RepositorySecret, Type: "ftp"}, "", nil, "(secret RESTIC_REPOSITORY, type ftp)"},
		{"no type", Repository{URLSecret: RepositorySecret}, "", nil, "(secret RESTIC_REPOSITORY)"},
		{"credentials replace the derived list", Repository{URLSecret: RepositorySecret, Type: "rest", Credentials: []string{"RESTIC_REST_USERNAME", "RESTIC_REST_PASSWORD"}}, "rest", []string{"RESTIC_REST_USERNAME", "RESTIC_REST_PASSWORD"}, "(secret RESTIC_REPOSITORY, type rest)"},
		{"empty credentials mean none", Repository{URL: "s3:host/bucket", Credentials: []string{}}, "s3", []string{}, "s3:host/bucket"},
		{"nothing at all", Repository{}, "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.repo.Backend(); got != tt.backend {
				t.Errorf("Backend() = %q, want %q", got, tt.backend)
			}
			if got := tt.repo.CredentialSecrets(); !reflect.DeepEqual(got, tt.creds) {
				t.Errorf("CredentialSecrets() = %#v, want %#v", got, tt.creds)
			}
			if got := tt.repo.Display(); got != tt.shown {
				t.Errorf("Display() = %q, want %q", got, tt.shown)
			}
		})
	}
}

func TestCredentialSecretsReturnsACopy(t *testing.T) {
	r := Repository{Credentials: []string{"A"}}
	r.CredentialSecrets()[0] = "B"
	if r.Credentials[0] != "A" {
		t.Error("CredentialSecrets shares memory with the repository")
	}
}
