package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"path"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// Dump writes one file of a snapshot, or a folder as a tar (restic dump),
// to stdout in data lines of operate.DumpChunk bytes, without a lock and
// without touching live data. Its result line counts the bytes and gives
// their SHA-256, so the operator's side knows they all arrived.
func (a *Agent) Dump(ctx context.Context, o RunOptions, req operate.DumpRequest) int {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	done, ok := a.readOnly(o, operate.OpDump)
	if !ok {
		return operate.ExitInterrupted
	}
	rec := a.newRecorder(operate.OpDump, o)
	s := rec.begin("dump", "dump")
	w := &chunker{out: a.Out, h: sha256.New()}
	res := &operate.DumpResult{Path: req.Path}
	err := a.dump(ctx, req, res, w)
	res.Bytes, res.SHA256 = w.n, hex.EncodeToString(w.h.Sum(nil))
	if err != nil {
		failStep(s, err)
	} else {
		s.fact("bytes", w.n)
		s.ok(0, fmt.Sprintf("%s of snapshot %s: %d bytes", req.Path, short(res.Snapshot), w.n))
	}
	ev := rec.finish(ctx.Err() != nil)
	done(a.Out.Line(operate.Line{Type: operate.LineResult, Evidence: ev, Dump: res,
		Agent: &operate.AgentInfo{Version: a.Version, Protocol: operate.Protocol, ResticVersion: ev.ResticVersion}}))
	return ev.ExitCode
}

func (a *Agent) dump(ctx context.Context, req operate.DumpRequest, res *operate.DumpResult, w *chunker) error {
	if !strings.HasPrefix(req.Path, "/") || path.Clean(req.Path) != req.Path {
		return &stepError{class: "bad_path", msg: fmt.Sprintf("%q is not a clean absolute path of the snapshot (ls lists them)", req.Path)}
	}
	snap, _, err := a.resolve(ctx, req.Snapshot)
	if err != nil {
		return err
	}
	res.Snapshot = snap.ID
	if err := a.restic.Dump(ctx, snap.ID, req.Path, w); err != nil {
		return err
	}
	return w.flush()
}

// chunker cuts what restic dump writes into data lines, hashing and
// counting it.
type chunker struct {
	out *Output
	h   hash.Hash
	n   int64
	buf []byte
}

func (c *chunker) Write(p []byte) (int, error) {
	written := len(p)
	c.h.Write(p)
	c.n += int64(len(p))
	for len(p) > 0 {
		room := operate.DumpChunk - len(c.buf)
		take := min(room, len(p))
		c.buf = append(c.buf, p[:take]...)
		p = p[take:]
		if len(c.buf) == operate.DumpChunk {
			if err := c.flush(); err != nil {
				return 0, err
			}
		}
	}
	return written, nil
}

func (c *chunker) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	err := c.out.Data(c.buf)
	c.buf = c.buf[:0]
	return err
}
