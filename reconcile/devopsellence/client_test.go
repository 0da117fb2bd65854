package devopsellence_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/devopsellence"
	"github.com/devopsellence/devopsellence-backup/reconcile/secret"
)

const app = `schema_version: 1
organization: solo
project: app
services:
  web:
    ports:
      - name: http
        port: 3000
    healthcheck:
      path: /up
  backup:
    image: restic/restic:0.18.1
    command: [sh, -lc, sleep infinity]
    env:
      GREETING: hello
    secret_refs:
      - name: RESTIC_PASSWORD
        secret: devopsellence://plaintext/RESTIC_PASSWORD
`

func client(sim *simtest.Env) *devopsellence.Client {
	return &devopsellence.Client{Bin: sim.Bin, Dir: sim.Workspace, Env: sim.Environ(), Timeout: 5 * time.Second, DeployTimeout: 10 * time.Second}
}

func deployable(t *testing.T) *simtest.Env {
	t.Helper()
	sim := simtest.New(t)
	sim.WriteFile(t, "devopsellence.yml", app)
	sim.WriteFile(t, "Dockerfile", "FROM scratch\n")
	sim.Setup(t)
	return sim
}

func TestClientSpeaksTheCLIContract(t *testing.T) {
	sim := deployable(t)
	c := client(sim)
	ctx := context.Background()
	if set, err := c.ModeSet(ctx); err != nil || !set {
		t.Fatalf("mode: %v %v", set, err)
	}
	list, err := c.ListSecrets(ctx, "production", "backup")
	if err != nil || len(list) != 1 || list[0].Name != "RESTIC_PASSWORD" || list[0].Service != "backup" || list[0].Stored {
		t.Fatalf("secret list: %+v %v", list, err)
	}
	res, err := c.SetSecret(ctx, "production", "backup", "RESTIC_PASSWORD", secret.New("pw-on-stdin\n"))
	if err != nil || res.ConfigUpdated {
		t.Fatalf("secret set: %+v %v", res, err)
	}
	for _, call := range sim.Calls(t) {
		if call.Subcommand == "secret set" && (call.StdinSHA256 == "" || strings.Contains(strings.Join(call.Argv, " "), "pw-on-stdin")) {
			t.Errorf("the value did not travel on stdin only: %+v", call)
		}
	}
	if err := c.ResolveConfig(ctx, "production"); err != nil {
		t.Fatalf("config resolve: %v", err)
	}
	nodes, err := c.Nodes(ctx, "production")
	if err != nil || len(nodes) != 1 || nodes[0].Name != "sim-1" || !nodes[0].HasLabel("worker") {
		t.Fatalf("nodes: %+v %v", nodes, err)
	}
	if nodes, err := c.Nodes(ctx, "staging"); err != nil || len(nodes) != 0 {
		t.Fatalf("nodes of staging, where none is attached: %+v %v", nodes, err)
	}
	// The operator's own DEVOPSELLENCE_ENVIRONMENT does not change the scope.
	shell := *c
	shell.Env = append(append([]string(nil), c.Env...), "DEVOPSELLENCE_ENVIRONMENT=staging")
	if nodes, err := shell.Nodes(ctx, "production"); err != nil || len(nodes) != 1 {
		t.Fatalf("nodes of production with DEVOPSELLENCE_ENVIRONMENT=staging around: %+v %v", nodes, err)
	}
	var events []string
	ev, err := c.Deploy(ctx, "production", false, func(e reconcile.DeployEvent) { events = append(events, e.Kind) })
	if err != nil || ev.Phase != "settled" || events[0] != "started" || events[len(events)-1] != "result" {
		t.Fatalf("deploy: %+v %v %v", ev, events, err)
	}
	var lines []string
	code, err := c.Exec(ctx, "production", "backup", []string{"sh", "-c", `echo "$GREETING $RESTIC_PASSWORD"; exit 7`}, func(stream, line string) { lines = append(lines, stream+":"+line) })
	if err != nil || code != 7 || strings.Join(lines, "|") != "stdout:hello pw-on-stdin" {
		t.Fatalf("exec: code %d err %v lines %v", code, err, lines)
	}
	for _, want := range []int{0, 1, 2} {
		got, err := c.Exec(ctx, "production", "backup", []string{"sh", "-c", "exit " + string(rune('0'+want))}, nil)
		if err != nil || got != want {
			t.Errorf("exec exit %d: got %d, %v", want, got, err)
		}
	}
}

func TestClientTurnsFailuresIntoTypedErrors(t *testing.T) {
	ctx := context.Background()
	sim := simtest.New(t)
	sim.WriteFile(t, "devopsellence.yml", app)
	c := client(sim)
	if _, err := c.ListSecrets(ctx, "production", "backup"); !errors.Is(err, reconcile.ErrModeNotSet) {
		t.Errorf("no mode: %v", err)
	}
	missing := &devopsellence.Client{Bin: filepath.Join(t.TempDir(), "devopsellence"), Dir: sim.Workspace}
	if _, err := missing.ListSecrets(ctx, "production", "backup"); !errors.Is(err, reconcile.ErrNotInstalled) || errors.Is(err, reconcile.ErrRejected) {
		t.Errorf("no binary: %v", err)
	}
	notOnPath := &devopsellence.Client{Bin: "devopsellence", Dir: sim.Workspace, Env: []string{"PATH=" + t.TempDir()}}
	if _, err := notOnPath.ListSecrets(ctx, "production", "backup"); !errors.Is(err, devopsellence.ErrNotInstalled) {
		t.Errorf("not on PATH: %v", err)
	}

	sim = deployable(t)
	for _, tc := range []struct {
		fault string
		check func(error) bool
	}{
		{"config resolve#1=exit:1:invalid devopsellence.yml: boom", func(err error) bool {
			var e *devopsellence.Error
			return errors.As(err, &e) && e.ExitCode == 1 && e.Message == "invalid devopsellence.yml: boom" && e.Command == "config resolve" &&
				errors.Is(err, reconcile.ErrRejected) && !errors.Is(err, reconcile.ErrModeNotSet)
		}},
		{"config resolve#1=garbage", func(err error) bool { return errors.Is(err, devopsellence.ErrBadOutput) }},
		{"config resolve#1=hang", func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{"config resolve#1=crash-after", func(err error) bool {
			var e *devopsellence.Error
			return errors.As(err, &e) && e.ExitCode == 1
		}},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			sim.ResetCalls(t)
			sim.Faults = tc.fault
			defer func() { sim.Faults = "" }()
			c := client(sim)
			// Only the hanging call meets its deadline: the others answer,
			// however long a busy machine takes to start the simulator.
			if strings.HasSuffix(tc.fault, "=hang") {
				c.Timeout = time.Second
			}
			if err := c.ResolveConfig(ctx, "production"); !tc.check(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := client(sim).ResolveConfig(cctx, "production"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestErrorsKeepDevopsellencesNextSteps(t *testing.T) {
	e := &devopsellence.Error{Command: "deploy", ExitCode: 1, Message: "rollout failed", NextSteps: []string{"devopsellence status --env 'production'"}}
	if got := e.Error(); got != "devopsellence deploy: rollout failed; devopsellence suggests: devopsellence status --env 'production'" {
		t.Errorf("Error() = %q", got)
	}
}

func TestSetSecretRefusesAValueWithANULByteBeforeRunningDevopsellence(t *testing.T) {
	sim := deployable(t)
	sim.ResetCalls(t)
	_, err := client(sim).SetSecret(context.Background(), "production", "backup", "RESTIC_PASSWORD", secret.New("pw\x00hunter2"))
	if err == nil || !strings.Contains(err.Error(), "NUL") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}
	for _, c := range sim.Calls(t) {
		if c.Subcommand == "secret set" {
			t.Errorf("devopsellence was asked to store it: %+v", c)
		}
	}
}
