package cli_test

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/yamlpatch"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// bigConfig is a devopsellence.yml with n services, each with env, secret
// refs and a volume, and comments between them.
func bigConfig(n int) []byte {
	var b strings.Builder
	b.WriteString("schema_version: 1\norganization: solo\nproject: big\ndefault_environment: production\n\nservices:\n")
	b.WriteString("  web:\n    ports:\n      - name: http\n        port: 3000\n    healthcheck:\n      path: /up\n    volumes:\n      - source: shared\n        target: /shared\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "  # worker %d\n  worker-%d:\n    command: [bin/work, --queue, q%d]\n    env:\n      QUEUE: q%d\n      THREADS: \"4\"\n    secret_refs:\n      - name: DATABASE_URL\n        secret: devopsellence://plaintext/DATABASE_URL\n    volumes:\n      - source: vol-%d\n        target: /data\n", i, i, i, i, i)
	}
	return []byte(b.String())
}

const benchSpec = `apiVersion: backup.devopsellence.io/v1alpha1
kind: Backup
metadata:
  name: big
spec:
  image: restic/restic:0.18.1
  volumes: [{name: shared}, {name: vol-1999}]
  databases: [{name: primary, engine: postgres, urlSecret: DATABASE_URL}]
  repository: {url: "s3:s3.amazonaws.com/big"}
  retention: {keepDaily: 7}
`

// planBytes is what `plan` does with the bytes it read, without devopsellence.
func planBytes(b *testing.B, cfg []byte, s *spec.Backup) {
	doc, err := yamlpatch.Parse(cfg)
	if err != nil {
		b.Fatal(err)
	}
	app, err := reconcile.ReadApp(doc.Root(), s.ServiceName())
	if err != nil {
		b.Fatal(err)
	}
	d, err := reconcile.Desire(s, app, spec.DefaultFile)
	if err != nil {
		b.Fatal(err)
	}
	p, err := reconcile.Diff(d, &reconcile.Observed{ConfigFile: "devopsellence.yml", Config: cfg, Doc: doc, App: app}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if len(p.Changes) != 1 {
		b.Fatalf("changes = %v", p.Changes)
	}
	if err := render.PlanText(io.Discard, p); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPlan2000Services is `plan` on a 2,000-service config; compare it
// with BenchmarkYAMLv3Parse2000Services (target: within 1.5x).
func BenchmarkPlan2000Services(b *testing.B) {
	cfg := bigConfig(2000)
	s, err := spec.Parse(spec.DefaultFile, []byte(benchSpec))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(cfg)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		planBytes(b, cfg, s)
	}
}

// BenchmarkYAMLv3Parse2000Services is a bare yaml.v3 parse of the same bytes.
func BenchmarkYAMLv3Parse2000Services(b *testing.B) {
	cfg := bigConfig(2000)
	b.SetBytes(int64(len(cfg)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var n yaml.Node
		if err := yaml.Unmarshal(cfg, &n); err != nil {
			b.Fatal(err)
		}
	}
}
