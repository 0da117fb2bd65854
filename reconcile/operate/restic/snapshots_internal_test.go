package restic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// listing returns `restic snapshots --json` output of n snapshots shaped
// like restic 0.18.1's, with stored summaries.
func listing(n int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		at := t0.Add(time.Duration(i) * time.Hour).Format(time.RFC3339Nano)
		id := fmt.Sprintf("%064x", i+1)
		fmt.Fprintf(&b, `{"time":%q,"parent":"%064x","tree":"%064x","paths":["/srv/app/data"],"hostname":"app-host",`+
			`"username":"root","tags":["app:example","env:production","kind:files"],"program_version":"restic 0.18.1",`+
			`"summary":{"backup_start":%q,"backup_end":%q,"files_new":3,"files_changed":1,"files_unmodified":1200,`+
			`"dirs_new":0,"dirs_changed":2,"dirs_unmodified":80,"data_blobs":3,"tree_blobs":3,"data_added":203171,`+
			`"data_added_packed":202452,"total_files_processed":1204,"total_bytes_processed":1234567890},"id":%q,"short_id":%q}`,
			at, i, i+7, at, at, id, id[:8])
	}
	b.WriteByte(']')
	return b.Bytes()
}

func TestDecodingAListingStreamsEverySnapshot(t *testing.T) {
	data := listing(3000)
	var n int
	var last Snapshot
	err := decodeSnapshots(bytes.NewReader(data), func(s *Snapshot) error { n++; last = *s; return nil })
	if err != nil || n != 3000 {
		t.Fatalf("decoded %d, %v", n, err)
	}
	var want []Snapshot
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	w := want[len(want)-1]
	if last.ID != w.ID || last.ShortID != w.ID[:8] || !last.Time.Equal(w.Time) || last.Summary == nil ||
		last.Summary.TotalBytesProcessed != 1234567890 || len(last.Tags) != 3 || last.Hostname != "app-host" {
		t.Errorf("last = %+v", last)
	}
	for _, in := range []string{"", "[]", " [ ] "} {
		if err := decodeSnapshots(bytes.NewReader([]byte(in)), func(*Snapshot) error { t.Error("called"); return nil }); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
	if err := decodeSnapshots(bytes.NewReader([]byte(`{"id":"x"}`)), func(*Snapshot) error { return nil }); err == nil {
		t.Error("an object was taken for a listing")
	}
}

func BenchmarkDecode3000Snapshots(b *testing.B) {
	data := listing(3000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		list := make([]Snapshot, 0, 64)
		err := decodeSnapshots(bytes.NewReader(data), func(s *Snapshot) error { list = append(list, *s); return nil })
		if err != nil || len(list) != 3000 {
			b.Fatal(len(list), err)
		}
	}
}
