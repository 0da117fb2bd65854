package cli

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

type dumpOptions struct {
	operateOptions
	FromCopy string
	// Args are the snapshot and the path.
	Args []string
}

func newDumpCmd(f *Factory, runF func(*dumpOptions) error) *cobra.Command {
	o := &dumpOptions{operateOptions: newOperateOptions(f)}
	cmd := &cobra.Command{
		Use:   "dump SNAPSHOT PATH",
		Short: "Write a file of a snapshot, or a folder as a tar, to stdout: to bring it to this machine",
		Long: `dump writes PATH of one of this app's snapshots to stdout, byte for byte: a
file as it is, a folder as a tar archive (restic dump). It reads the
repository inside the backup service, without a lock, and touches no live
data; the bytes come back through devopsellence exec (base64 in its output
lines), and their count and SHA-256 are checked on arrival. Redirect stdout to
a file; it refuses to write to a terminal.

SNAPSHOT is an ID (at least its first 8 characters, as snapshots shows it);
PATH is as ls shows it: /data/<volume>/... for a volume, /<name>.sqlite3 (or
.pgdump, .sql, .rdb) for a database dump. --from-copy NAME reads that copy.

EXIT STATUS
  0  written in full, and the bytes check out
  1  the snapshot or path could not be read, or the bytes did not arrive whole
  2  usage error (stdout is a terminal, bad flags)`,
		Example: `  devopsellence-backup dump 1a2b3c4d /data/app_storage/uploads/invoice.pdf > invoice.pdf
  devopsellence-backup dump 1a2b3c4d /data/app_storage/uploads > uploads.tar
  devopsellence-backup dump 5e6f7a8b /primary.pgdump --env production > primary.pgdump`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.bind(f, cmd)
			o.Args = args
			return runCommand(cmd.Context(), o, "", runF, runDump)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&o.Envs, "env", nil, "the environment (default: the only one the spec covers)")
	fl.DurationVar(&o.Timeout, "timeout", operate.DefaultTimeout(operate.OpDump), "deadline of the dump; restic is then interrupted")
	fl.StringVar(&o.FromCopy, "from-copy", "", "read the copy of this name (spec.copies) instead of the primary repository")
	o.Output = "text"
	return cmd
}

// errDumpDamaged: the bytes that arrived are not the ones the agent read.
var errDumpDamaged = errors.New("the dump did not arrive whole")

func runDump(ctx context.Context, o *dumpOptions) error {
	if o.IO.OutIsTerminal() {
		return usagef("dump writes the bytes of %s to stdout, which is a terminal: redirect it to a file (> file)", o.Args[1])
	}
	w, in, _, err := o.prepare()
	if err != nil {
		return err
	}
	env, err := oneEnv(w, in, o.Envs)
	if err != nil {
		return err
	}
	if err := checkCopy(in, []string{env}, o.FromCopy); err != nil {
		return err
	}
	rx := &receiver{out: o.IO.Out, h: sha256.New()}
	o.onData = rx.take
	runs, err := o.run(ctx, w, in, []string{env}, func(string) operate.RunRequest {
		return &operate.DumpRequest{FromCopy: o.FromCopy, Snapshot: o.Args[0], Path: o.Args[1]}
	})
	if err != nil {
		return err
	}
	r := runs[0]
	for _, f := range r.findings {
		if f.Severity == reconcile.SeverityError {
			fmt.Fprintf(o.IO.Err, "error: %s", f.Message)
			if len(f.NextActions) > 0 {
				fmt.Fprintf(o.IO.Err, "; next: %s", f.NextActions[0].Command)
			}
			fmt.Fprintln(o.IO.Err)
		}
	}
	res := r.outcome.Dump
	switch {
	case hasSeverity(r.findings, reconcile.SeverityError) || res == nil:
		return errReported
	case rx.err != nil:
		return fmt.Errorf("dump: writing to stdout: %w", rx.err)
	case rx.bad > 0 || rx.n != res.Bytes || hex.EncodeToString(rx.h.Sum(nil)) != res.SHA256:
		return fmt.Errorf("%w: %d bytes arrived, %d were read in the service (SHA-256 %s); run it again", errDumpDamaged, rx.n, res.Bytes, res.SHA256)
	}
	fmt.Fprintf(o.IO.Err, "wrote %s of snapshot %s in %s: %d bytes, SHA-256 %s\n", res.Path, operate.ShortID(res.Snapshot), env, res.Bytes, res.SHA256)
	return nil
}

// receiver decodes the pieces of a dump onto stdout, hashing and counting
// them.
type receiver struct {
	out io.Writer
	h   hash.Hash
	n   int64
	err error
	// bad counts data lines that did not decode.
	bad int
}

func (r *receiver) take(piece string) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(piece))
	if err != nil {
		r.bad++
		return
	}
	r.h.Write(b)
	r.n += int64(len(b))
	if r.err == nil {
		_, r.err = r.out.Write(b)
	}
}
