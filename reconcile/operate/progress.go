package operate

import "fmt"

// Text is p for people: "files: 42.0%, 1.2 GiB of 2.9 GiB, 310 of 740
// files, ETA 3m". What restic does not know yet is left out rather than
// shown as 0: a scan still counting ("310 files"), a dump whose size is
// only known at its end ("db:primary: 18.5 MiB so far").
func (p Progress) Text() string {
	if p.BytesTotal <= 0 {
		text := fmt.Sprintf("%s: %s so far", p.Step, Bytes(p.BytesDone))
		if p.FilesDone > 0 {
			text += fmt.Sprintf(", %d files", p.FilesDone)
		}
		return text
	}
	text := fmt.Sprintf("%s: %.1f%%, %s of %s", p.Step, p.Percent, Bytes(p.BytesDone), Bytes(p.BytesTotal))
	switch {
	case p.FilesTotal > 0 && p.FilesDone <= p.FilesTotal:
		text += fmt.Sprintf(", %d of %d files", p.FilesDone, p.FilesTotal)
	case p.FilesDone > 0:
		text += fmt.Sprintf(", %d files", p.FilesDone)
	}
	if p.ETASeconds > 0 && p.Percent < 100 {
		text += ", ETA " + Age(p.ETASeconds)
	}
	return text
}

// Bytes is a size for people, in binary units.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
