package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
)

// SavedPlanKind marks a file written by `plan --out`.
const SavedPlanKind = "devopsellence-backup-plan"

// SavedPlan is a plan written to a file for review, then applied exactly. It
// holds no secret values: none are known when planning.
type SavedPlan struct {
	SchemaVersion int       `json:"schema_version"`
	Kind          string    `json:"kind"`
	CreatedAt     time.Time `json:"created_at"`
	// Inputs is what the plan was computed from.
	Inputs reconcile.Inputs `json:"inputs"`
	// AfterSHA256 is the hash of devopsellence.yml as the plan patches it.
	AfterSHA256 string         `json:"after_sha256"`
	Plan        render.PlanDoc `json:"plan"`
}

// ErrStalePlan means a saved plan no longer matches its inputs.
var ErrStalePlan = errors.New("the saved plan is stale")

// savedPlan is the document `plan --out` writes.
func savedPlan(operation string, p *reconcile.Plan, in reconcile.Inputs, now time.Time) ([]byte, error) {
	sp := SavedPlan{
		SchemaVersion: render.SchemaVersion, Kind: SavedPlanKind, CreatedAt: now.UTC().Truncate(time.Second),
		Inputs: in, AfterSHA256: p.AfterSHA256(), Plan: render.NewPlanDoc(operation, p),
	}
	var buf bytes.Buffer
	if err := render.WriteJSON(&buf, sp); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func readSavedPlan(path string) (*SavedPlan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("read saved plan: %w", err)
	}
	var sp SavedPlan
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&sp); err != nil || sp.Kind != SavedPlanKind {
		return nil, usagef("%s is not a plan written by `devopsellence-backup plan --out`", path)
	}
	if sp.SchemaVersion != render.SchemaVersion {
		return nil, usagef("%s has schema_version %d; this devopsellence-backup reads %d: plan again", path, sp.SchemaVersion, render.SchemaVersion)
	}
	return &sp, nil
}

// outcome is what a plan would do, comparable between a saved plan and a new one.
func outcome(changes []reconcile.Change, envs []reconcile.EnvPlan) []byte {
	if changes == nil {
		changes = []reconcile.Change{}
	}
	b, _ := json.Marshal(struct {
		Changes      []reconcile.Change
		Environments []reconcile.EnvPlan
	}{changes, envs})
	return b
}

// check refuses to apply a plan whose inputs, or whose outcome, changed
// since it was saved: what was reviewed is what gets applied.
func (sp *SavedPlan) check(p *reconcile.Plan, now reconcile.Inputs) error {
	reasons := sp.Inputs.Diff(now)
	if len(reasons) == 0 {
		if p.AfterSHA256() != sp.AfterSHA256 {
			reasons = append(reasons, "the planned devopsellence.yml differs")
		}
		if !bytes.Equal(outcome(sp.Plan.Changes, sp.Plan.Environments), outcome(p.Changes, p.Environments)) {
			reasons = append(reasons, "what the plan would do changed (another apply ran since?)")
		}
	}
	if len(reasons) == 0 {
		return nil
	}
	return usageError{fmt.Errorf("%w: %s; run `devopsellence-backup plan --out FILE` again and review the new plan", ErrStalePlan, strings.Join(reasons, "; "))}
}
