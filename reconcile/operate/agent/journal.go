package agent

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"github.com/devopsellence/devopsellence-backup/reconcile/environ"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// A volume is written by the app, so nothing the agent finds in one is an
// instruction. A files restore keeps its journal in its scratch folder on
// the volume (it must outlive the container, which a deploy replaces), so
// the journal is sealed: an HMAC with a key derived from the repository
// password, which the backup service holds and the app does not. A folder
// named like a scratch folder whose journal does not open with the key is
// not the agent's: it is left as it is, and status says so. A journal that
// opens still directs nothing outside its own restore: every path it names
// lies in one of its scratch folders or its targets, all inside the
// volumes of the spec, and no move goes through a symbolic link.

const (
	scratchPrefix = ".devopsellence-restore-"
	journalName   = "journal.json"
	manifestName  = "manifest.json"
	// progressName is what versions before sealed journals noted their
	// progress in; such a folder is not trusted either.
	progressName = "progress.json"
	// maxSealed bounds what is read of a sealed file.
	maxSealed = 64 << 20
)

// Journal states.
const (
	// statePrepared: the scratch folders exist, no move was made: the
	// live data is as it was.
	statePrepared = "prepared"
	// stateMoving: moves were made (Done of them).
	stateMoving = "moving"
	// stateKept: the moves were all made, but what the app wrote into the
	// moved-out data meanwhile could not be saved: the folder is kept for
	// a person.
	stateKept = "kept"
)

const journalVersion = 1

// journal is a files restore's record of itself, in its first scratch
// folder.
type journal struct {
	Version  int    `json:"version"`
	Plan     string `json:"plan"`
	RunID    string `json:"run_id,omitempty"`
	Snapshot string `json:"snapshot"`
	Undo     string `json:"undo,omitempty"`
	// Targets are the live paths the restore replaces.
	Targets []string `json:"targets"`
	// Scratch are the restore's scratch folders, one per volume; the
	// journal lives in the first.
	Scratch []string `json:"scratch"`
	Moves   []move   `json:"moves,omitempty"`
	// Done counts the moves made.
	Done  int    `json:"done"`
	State string `json:"state"`
	// Expected is what the snapshot holds of the targets.
	Expected operate.Counts `json:"expected"`
	// Kept says why a kept folder was kept.
	Kept string `json:"kept,omitempty"`
}

// move renames From to To; when To exists (something appeared there
// since the plan), it is first moved to Aside, in the scratch folder.
type move struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Aside string `json:"aside"`
}

// sealed is a document and its HMAC.
type sealed struct {
	Body json.RawMessage `json:"body"`
	MAC  string          `json:"mac"`
}

var errNoKey = errors.New("the repository password (RESTIC_PASSWORD) is not in the backup service's environment, so the restore cannot seal its journal: deploy the service from the spec with devopsellence-backup apply")

// journalKey derives the key that seals journals from the primary
// repository's password (never a copy's: the key must not change between
// the run that writes a journal and the one that finishes it), for this
// app. nil when the service has no password.
func journalKey(env []string, appID string) []byte {
	pw := environ.Get(env, "RESTIC_PASSWORD")
	if pw == "" {
		if f := environ.Get(env, "RESTIC_PASSWORD_FILE"); f != "" {
			if b, err := os.ReadFile(f); err == nil {
				pw = strings.TrimRight(string(b), "\r\n")
			}
		}
	}
	if pw == "" {
		return nil
	}
	m := hmac.New(sha256.New, []byte(pw))
	m.Write([]byte("devopsellence-backup restore journal v1\n" + appID))
	return m.Sum(nil)
}

func (a *Agent) mac(body []byte) []byte {
	m := hmac.New(sha256.New, a.jkey)
	m.Write(body)
	return m.Sum(nil)
}

// writeSealed seals v into path, atomically: a new temp file, fsync,
// rename over whatever is there (a link is replaced, never followed).
func (a *Agent) writeSealed(path string, v any) error {
	if a.jkey == nil {
		return errNoKey
	}
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	data, err := json.Marshal(sealed{Body: body, MAC: hex.EncodeToString(a.mac(body))})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// readSealed reads a sealed file into v: a regular file (not followed
// through a link), whose HMAC matches, holding exactly v's fields.
func (a *Agent) readSealed(path string, v any) error {
	if a.jkey == nil {
		return errNoKey
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSealed+1))
	if err != nil {
		return err
	}
	if len(data) > maxSealed {
		return errors.New("too large")
	}
	var s sealed
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.New("not sealed by the agent")
	}
	mac, err := hex.DecodeString(s.MAC)
	if err != nil || !hmac.Equal(mac, a.mac(s.Body)) {
		return errors.New("not sealed with this app's key")
	}
	dec := json.NewDecoder(bytes.NewReader(s.Body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// restoreFolder is a folder named like a restore's scratch folder, found
// in a volume, and what the agent makes of it.
type restoreFolder struct {
	dir string
	// j is the sealed journal that owns it (nil: none does); first says
	// it holds that journal.
	j     *journal
	first bool
	why   string
}

var planID = regexp.MustCompile(`^[0-9a-f]{12}$`)

// scanRestores lists the restore folders in the roots of the volumes,
// each with the valid sealed journal that owns it, if any. It reads only.
func (a *Agent) scanRestores() []restoreFolder {
	var out []restoreFolder
	for _, root := range a.Config.Paths {
		entries, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), scratchPrefix) {
				out = append(out, restoreFolder{dir: filepath.Join(root, e.Name())})
			}
		}
	}
	for i := range out {
		f := &out[i]
		if fi, err := os.Lstat(f.dir); err != nil || !fi.IsDir() {
			f.why = "it is not a folder (a link or a file)"
			continue
		}
		var j journal
		if err := a.readSealed(filepath.Join(f.dir, journalName), &j); err != nil {
			f.why = "it holds no journal sealed by this app's agent (" + err.Error() + ")"
			continue
		}
		if err := a.checkJournal(&j, f.dir); err != nil {
			f.why = "its journal names what it may not: " + err.Error()
			continue
		}
		f.j, f.first = &j, true
	}
	// The other scratch folders of a restore are owned by its journal.
	for i := range out {
		f := &out[i]
		if f.j != nil {
			continue
		}
		for _, g := range out {
			if g.first && slices.Contains(g.j.Scratch, f.dir) {
				f.j, f.why = g.j, ""
			}
		}
	}
	return out
}

// checkJournal accepts a journal, found in dir, only when everything it
// names lies inside its own restore: its scratch folders (in the spec's
// volume roots, named after its plan, dir first) and its targets (inside
// those volumes, outside every scratch folder); each move goes between a
// scratch folder and a target, never moves a volume root, and sets aside
// into a scratch folder.
func (a *Agent) checkJournal(j *journal, dir string) error {
	switch {
	case j.Version != journalVersion:
		return fmt.Errorf("version %d", j.Version)
	case !planID.MatchString(j.Plan):
		return fmt.Errorf("plan %q", j.Plan)
	case len(j.Scratch) == 0 || j.Scratch[0] != dir:
		return fmt.Errorf("scratch folders %q do not start with %s", j.Scratch, dir)
	case j.Done < 0 || j.Done > len(j.Moves):
		return fmt.Errorf("%d of %d moves done", j.Done, len(j.Moves))
	case j.State != statePrepared && j.State != stateMoving && j.State != stateKept:
		return fmt.Errorf("state %q", j.State)
	case j.State == statePrepared && j.Done > 0:
		return errors.New("moves done before any was planned")
	case len(j.Targets) == 0:
		return errors.New("no target")
	}
	for _, s := range j.Scratch {
		if !clean(s) || !slices.ContainsFunc(a.Config.Paths, func(r string) bool { return s == filepath.Join(r, scratchPrefix+j.Plan) }) {
			return fmt.Errorf("scratch folder %q is not this plan's folder in a volume root", s)
		}
	}
	inScratch := func(p string) bool {
		return slices.ContainsFunc(j.Scratch, func(s string) bool { return p != s && under(p, s) })
	}
	for _, t := range j.Targets {
		if !clean(t) || a.rootOf(t) == "" || slices.ContainsFunc(j.Scratch, func(s string) bool { return under(t, s) }) {
			return fmt.Errorf("target %q is not inside a volume, outside the scratch folders", t)
		}
	}
	inTarget := func(p string) bool {
		return slices.ContainsFunc(j.Targets, func(t string) bool { return under(p, t) }) &&
			!slices.Contains(a.Config.Paths, p) && !slices.ContainsFunc(j.Scratch, func(s string) bool { return under(p, s) })
	}
	for _, m := range j.Moves {
		if !clean(m.From) || !clean(m.To) || !clean(m.Aside) {
			return fmt.Errorf("move %q → %q is not between clean absolute paths", m.From, m.To)
		}
		if !(inScratch(m.From) && inTarget(m.To) || inTarget(m.From) && inScratch(m.To)) || !inScratch(m.Aside) {
			return fmt.Errorf("move %q → %q (aside %q) is not between this restore's scratch folders and its targets", m.From, m.To, m.Aside)
		}
	}
	return nil
}

// rootOf is the spec's volume root (backed-up folder) that holds p.
func (a *Agent) rootOf(p string) string {
	root := ""
	for _, r := range a.Config.Paths {
		if under(p, r) && len(r) > len(root) {
			root = r
		}
	}
	return root
}

func clean(p string) bool { return strings.HasPrefix(p, "/") && filepath.Clean(p) == p && p != "/" }

// noLinkBelow reports why p cannot be moved safely: a component of it
// below its volume root is a symbolic link (a move would go through it,
// out of the volume), or it lies in no volume.
func (a *Agent) noLinkBelow(p string) error {
	root := a.rootOf(p)
	if root == "" {
		return fmt.Errorf("%s is in no volume of the spec", p)
	}
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return err
	}
	q := root
	for _, c := range strings.Split(rel, string(filepath.Separator)) {
		if c == "." {
			continue
		}
		q = filepath.Join(q, c)
		fi, err := os.Lstat(q)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 && q != p {
			return fmt.Errorf("%s is a symbolic link", q)
		}
	}
	return nil
}
