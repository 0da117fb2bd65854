package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ScheduleManual is the only string a schedule may be.
const ScheduleManual = "manual"

// DefaultBackupEvery is how often the service backs up when the spec says
// nothing about a schedule: backups happen unless someone turns them off.
const DefaultBackupEvery = Duration(day)

type plainSchedule Schedule

// UnmarshalJSON reads `manual` or a schedule mapping, strictly.
func (s *Schedule) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var word string
		if err := json.Unmarshal(data, &word); err != nil {
			return err
		}
		if word != ScheduleManual {
			return fmt.Errorf("schedule %q: want %q or a mapping with every or at", word, ScheduleManual)
		}
		*s = Schedule{Manual: true}
		return nil
	}
	var p plainSchedule
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*s = Schedule(p)
	return nil
}

// MarshalJSON writes `manual` for a manual schedule.
func (s Schedule) MarshalJSON() ([]byte, error) {
	if s.Manual {
		return json.Marshal(ScheduleManual)
	}
	return json.Marshal(plainSchedule(s))
}
