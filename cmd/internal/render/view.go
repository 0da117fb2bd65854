package render

import (
	"io"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// OperateView shows what the operating commands found, in the format chosen
// once from --output: text for people, or one JSON document.
type OperateView interface {
	// Operation shows a run of backup, check, prune, drill or copy.
	Operation(op operate.Op, doc OperationDoc) error
	Status(doc StatusDoc) error
	// Browse shows what snapshots, ls or find read.
	Browse(op operate.Op, doc BrowseDoc) error
	// RestorePlan shows a restore's plan before it is approved; the JSON
	// view shows it only in the restore's document.
	RestorePlan(p *operate.RestorePlan) error
	Restore(doc RestoreDoc) error
}

// NewOperateView is the view of output (Text or JSON) on w.
func NewOperateView(output string, w io.Writer) OperateView {
	if output == JSON {
		return jsonView{w}
	}
	return textView{w}
}

type textView struct{ w io.Writer }

func (v textView) Operation(op operate.Op, doc OperationDoc) error {
	return OperationText(v.w, string(op), doc)
}

func (v textView) Status(doc StatusDoc) error { return StatusText(v.w, doc) }

func (v textView) Browse(op operate.Op, doc BrowseDoc) error {
	switch op {
	case operate.OpLs:
		return LsText(v.w, doc)
	case operate.OpFind:
		return FindText(v.w, doc)
	}
	return SnapshotsText(v.w, doc)
}

func (v textView) RestorePlan(p *operate.RestorePlan) error { return RestorePlanText(v.w, p) }

func (v textView) Restore(doc RestoreDoc) error { return RestoreText(v.w, doc) }

type jsonView struct{ w io.Writer }

func (v jsonView) Operation(_ operate.Op, doc OperationDoc) error { return WriteJSON(v.w, doc) }
func (v jsonView) Status(doc StatusDoc) error                     { return WriteJSON(v.w, doc) }
func (v jsonView) Browse(_ operate.Op, doc BrowseDoc) error       { return WriteJSON(v.w, doc) }
func (v jsonView) RestorePlan(*operate.RestorePlan) error         { return nil }
func (v jsonView) Restore(doc RestoreDoc) error                   { return WriteJSON(v.w, doc) }
