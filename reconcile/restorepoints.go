package reconcile

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// CodeNoRestorePoint: the app's deploys run a release task (a migration)
// and nothing takes a restore point before them.
const CodeNoRestorePoint = "no_restore_point"

// Workflow is one GitHub Actions workflow file of the app's repository.
type Workflow struct {
	// Path is the file as shown to people (.github/workflows/deploy.yml).
	Path string
	Text []byte
}

// releaseTask describes the app's release task (base or overlay) in a few
// words ("" when it has none).
func releaseTask(root *yaml.Node) string {
	type task struct {
		Service string   `yaml:"service"`
		Command []string `yaml:"command"`
		Args    []string `yaml:"args"`
	}
	var raw struct {
		Tasks struct {
			Release *task `yaml:"release"`
		} `yaml:"tasks"`
		Environments map[string]struct {
			Tasks struct {
				Release *task `yaml:"release"`
			} `yaml:"tasks"`
		} `yaml:"environments"`
	}
	if root == nil || root.Decode(&raw) != nil {
		return ""
	}
	describe := func(t *task) string {
		what := strings.Join(append(append([]string{}, t.Command...), t.Args...), " ")
		if what == "" {
			what = "its command"
		}
		return fmt.Sprintf("service %s runs %s", t.Service, what)
	}
	if t := raw.Tasks.Release; t != nil {
		return describe(t)
	}
	envs := make([]string, 0, len(raw.Environments))
	for e := range raw.Environments {
		envs = append(envs, e)
	}
	sort.Strings(envs)
	for _, e := range envs {
		if t := raw.Environments[e].Tasks.Release; t != nil {
			return describe(t) + " in " + e
		}
	}
	return ""
}

// checkpointsBeforeDeploy reports whether a workflow runs
// devopsellence-backup checkpoint before devopsellence deploy, and names
// the workflows that deploy without one first.
func checkpointsBeforeDeploy(wfs []Workflow) (ok bool, without []string) {
	for _, wf := range wfs {
		checkpoint := false
		sc := bufio.NewScanner(bytes.NewReader(wf.Text))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if strings.HasPrefix(line, "#") {
				continue
			}
			if strings.Contains(line, "devopsellence-backup checkpoint") {
				checkpoint = true
			}
			if i := strings.Index(line, "devopsellence deploy"); i >= 0 {
				if checkpoint {
					ok = true
				} else {
					without = append(without, wf.Path)
				}
				break
			}
		}
	}
	return ok, without
}

// restorePointFindings says, once, when the app runs a release task on
// deploy and no workflow takes a restore point first, with the one step that
// adds it. devopsellence's rollback does not reverse data changes: the
// restore point is what restore --before-release goes back to.
func restorePointFindings(d *Desired, o *Observed) []Finding {
	if o.Doc == nil || o.Workflows == nil || len(d.Covered) == 0 {
		return nil
	}
	task := releaseTask(o.Doc.Root())
	if task == "" {
		return nil
	}
	ok, without := checkpointsBeforeDeploy(o.Workflows)
	if ok && len(without) == 0 {
		return nil
	}
	where := "no workflow in .github/workflows runs devopsellence deploy, so no restore point is taken before deploys (unless your deploy script takes one)"
	file := "your deploy workflow"
	if len(without) > 0 {
		where = "these workflows run devopsellence deploy without devopsellence-backup checkpoint before it: " + strings.Join(without, ", ")
		file = without[0]
	}
	f := Finding{
		Severity: SeverityInfo, Code: CodeNoRestorePoint,
		Message: fmt.Sprintf("devopsellence.yml has a release task (%s) that changes data on every deploy, and devopsellence's rollback does not reverse it; %s. "+
			"A restore point taken just before each deploy is what restore --before-release REV goes back to", task, where),
		Evidence: []string{"tasks.release: " + task},
	}
	for _, env := range d.Covered {
		f.NextActions = append(f.NextActions, Action{
			Label:   fmt.Sprintf("add this step before `devopsellence deploy --env %s` in %s", env, file),
			Command: fmt.Sprintf(`- run: devopsellence-backup checkpoint --env %s --reason "deploy ${{ github.sha }}"`, env),
		})
	}
	return []Finding{f}
}
