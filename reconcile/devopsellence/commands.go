package devopsellence

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/secret"
)

// ModeSet reports whether the workspace has a saved mode (`mode show`).
func (c *Client) ModeSet(ctx context.Context) (bool, error) {
	vals, err := c.run(ctx, call{name: "mode show", args: []string{"mode", "show"}})
	if err != nil {
		return false, err
	}
	var doc struct {
		Set bool `json:"set"`
	}
	return doc.Set, one("mode show", vals, &doc)
}

// ListSecrets runs `secret list --env E --service S`.
func (c *Client) ListSecrets(ctx context.Context, env, service string) ([]reconcile.Secret, error) {
	vals, err := c.run(ctx, call{name: "secret list", args: []string{"secret", "list", "--env", env, "--service", service}})
	if err != nil {
		return nil, err
	}
	var doc struct {
		Secrets []listedSecret `json:"secrets"`
	}
	if err := one("secret list", vals, &doc); err != nil {
		return nil, err
	}
	out := make([]reconcile.Secret, 0, len(doc.Secrets))
	for _, s := range doc.Secrets {
		out = append(out, s.secret())
	}
	return out, nil
}

// SetSecret stores a plaintext secret; the value travels on stdin only.
func (c *Client) SetSecret(ctx context.Context, env, service, name string, value secret.Value) (reconcile.SetResult, error) {
	if value.HasNUL() {
		// The value would reach the service as an environment variable,
		// which cannot hold a NUL: the service would not start.
		return reconcile.SetResult{}, fmt.Errorf("secret set %s for service %s in %s: the value holds a NUL byte; nothing was stored", name, service, env)
	}
	return c.set(ctx, call{
		name:  "secret set",
		args:  []string{"secret", "set", name, "--service", service, "--env", env, "--stdin"},
		stdin: value.Reader(),
	})
}

// DeleteSecret removes a stored secret (`secret delete`). devopsellence
// also drops the service's secret_ref of that name, rewriting
// devopsellence.yml, so it is called only once no ref names it.
func (c *Client) DeleteSecret(ctx context.Context, env, service, name string) error {
	_, err := c.run(ctx, call{name: "secret delete", args: []string{"secret", "delete", name, "--service", service, "--env", env}})
	return err
}

// SetSecretOnePassword records a 1Password reference; no value is involved.
func (c *Client) SetSecretOnePassword(ctx context.Context, env, service, name, ref string) (reconcile.SetResult, error) {
	return c.set(ctx, call{
		name: "secret set",
		args: []string{"secret", "set", name, "--service", service, "--env", env, "--store", "1password", "--op-ref", ref},
	})
}

func (c *Client) set(ctx context.Context, cl call) (reconcile.SetResult, error) {
	vals, err := c.run(ctx, cl)
	if err != nil {
		return reconcile.SetResult{}, err
	}
	var res setResult
	if err := one(cl.name, vals, &res); err != nil {
		return reconcile.SetResult{}, err
	}
	return reconcile.SetResult{ConfigUpdated: res.ConfigUpdated}, nil
}

// ResolveConfig runs `config resolve --env E`: exit 0 means devopsellence.yml
// loads, for every environment.
func (c *Client) ResolveConfig(ctx context.Context, env string) error {
	vals, err := c.run(ctx, call{name: "config resolve", args: []string{"config", "resolve", "--env", env}})
	if err != nil {
		return err
	}
	var doc struct {
		Config json.RawMessage `json:"config"`
	}
	if err := one("config resolve", vals, &doc); err != nil {
		return err
	}
	if len(doc.Config) == 0 {
		return fmt.Errorf("devopsellence config resolve: no config in output: %w", ErrBadOutput)
	}
	return nil
}

// Nodes lists the nodes attached to one environment of this app: `node
// list` scoped by DEVOPSELLENCE_ENVIRONMENT=E, the only way to ask. (`node
// list --all` mixes in the attachments of every other app in the same state
// home, and an attachment does not say whose it is.)
func (c *Client) Nodes(ctx context.Context, env string) ([]reconcile.Node, error) {
	vals, err := c.run(ctx, call{name: "node list", args: []string{"node", "list"}, env: []string{"DEVOPSELLENCE_ENVIRONMENT=" + env}})
	if err != nil {
		return nil, err
	}
	var doc struct {
		Scope *string `json:"scope"`
		Items []struct {
			Name string `json:"name"`
			Node struct {
				Labels []string `json:"labels"`
			} `json:"node"`
			Bound bool `json:"current_environment_bound"`
		} `json:"node_items"`
	}
	if err := one("node list", vals, &doc); err != nil {
		return nil, err
	}
	if doc.Scope == nil || *doc.Scope != "current_environment" {
		return nil, fmt.Errorf("devopsellence node list: not scoped to environment %s: %w", env, ErrBadOutput)
	}
	nodes := make([]reconcile.Node, 0, len(doc.Items))
	for _, it := range doc.Items {
		if it.Bound {
			nodes = append(nodes, reconcile.Node{Name: it.Name, Labels: it.Node.Labels})
		}
	}
	return nodes, nil
}

// SetNodeLabels replaces a node's labels (`node label set`); pass every label it keeps.
func (c *Client) SetNodeLabels(ctx context.Context, node string, labels []string) error {
	_, err := c.run(ctx, call{name: "node label set", args: []string{"node", "label", "set", node, "--labels", strings.Join(labels, ",")}})
	return err
}

// Deploy runs `deploy --env E` and hands each NDJSON event to onEvent as it
// arrives. It returns the result event.
func (c *Client) Deploy(ctx context.Context, env string, dryRun bool, onEvent func(reconcile.DeployEvent)) (reconcile.DeployEvent, error) {
	args := []string{"deploy", "--env", env}
	if dryRun {
		args = append(args, "--dry-run")
	}
	var result reconcile.DeployEvent
	vals, err := c.run(ctx, call{name: "deploy", args: args, timeout: c.deployTimeout(), onValue: func(raw json.RawMessage) {
		var ev event
		if json.Unmarshal(raw, &ev) != nil {
			return
		}
		if ev.Event == "result" {
			result = ev.deployEvent()
		}
		if onEvent != nil {
			onEvent(ev.deployEvent())
		}
	}})
	if err != nil {
		return result, err
	}
	if result.Kind == "" {
		return result, fmt.Errorf("devopsellence deploy: no result event (%d events): %w", len(vals), ErrBadOutput)
	}
	return result, nil
}

var execExit = regexp.MustCompile(`exec failed with exit code (\d+)`)

// Exec runs argv inside SERVICE (`exec SERVICE --env E -- argv...`), handing
// each output line to onOutput as it arrives and keeping none of them. It
// returns the command's own exit code; err is set only when devopsellence
// could not run it. devopsellence passes no stdin and no signal on: the
// command reads /dev/null, and keeps running if this call is interrupted.
func (c *Client) Exec(ctx context.Context, env, service string, argv []string, onOutput func(stream, line string)) (int, error) {
	args := append([]string{"exec", service, "--env", env, "--"}, argv...)
	_, err := c.run(ctx, call{name: "exec", args: args, stream: true, timeout: c.deployTimeout(), onValue: func(raw json.RawMessage) {
		var ev event
		if json.Unmarshal(raw, &ev) == nil && ev.Event == "output" && onOutput != nil {
			onOutput(ev.Stream, ev.Message)
		}
	}})
	if e, ok := err.(*Error); ok {
		if m := execExit.FindStringSubmatch(e.Message); m != nil {
			code, _ := strconv.Atoi(m[1])
			return code, nil
		}
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

// WithTimeout returns a copy of c whose deploy/exec deadline is d.
func (c *Client) WithTimeout(d time.Duration) *Client {
	cp := *c
	cp.DeployTimeout = d
	return &cp
}

func (c *Client) deployTimeout() time.Duration {
	if c.DeployTimeout > 0 {
		return c.DeployTimeout
	}
	return DefaultDeployTimeout
}

// UseSolo runs `mode use solo`.
func (c *Client) UseSolo(ctx context.Context) error {
	_, err := c.run(ctx, call{name: "mode use", args: []string{"mode", "use", "solo"}})
	return err
}
