package store

import (
	"encoding/json"
	"time"

	"github.com/faaspot/faaspot"
)

// summaryRecord is the stored summary of an execution: what a listing shows, kept beside the
// record (written with it, with the same TTL) so that a listing never loads arguments, results
// or output. Its status is what the index trimming reads (see trimLua): the JSON name "status"
// is part of that contract.
type summaryRecord struct {
	ID         string     `json:"id"`
	Deployment string     `json:"deployment"`
	Version    int        `json:"version"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	DurationMS float64    `json:"duration_ms"`
	ColdStart  bool       `json:"cold_start"`
	ErrorType  string     `json:"error_type,omitempty"`
}

// encodeSummary is the stored JSON of e's summary.
func encodeSummary(e faaspot.Execution) []byte {
	s := e.Summary()
	b, _ := json.Marshal(summaryRecord{ID: s.ID, Deployment: s.Deployment, Version: s.Version,
		Status: string(s.Status), CreatedAt: s.CreatedAt, StartedAt: s.StartedAt, FinishedAt: s.FinishedAt,
		DurationMS: s.DurationMS, ColdStart: s.ColdStart, ErrorType: s.ErrorType}) // plain fields: cannot fail
	return b
}

// decodeSummary reads a stored summary.
func decodeSummary(b []byte) (faaspot.ExecutionSummary, error) {
	var r summaryRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return faaspot.ExecutionSummary{}, err
	}
	return faaspot.ExecutionSummary{ID: r.ID, Deployment: r.Deployment, Version: r.Version,
		Status: faaspot.ExecStatus(r.Status), CreatedAt: r.CreatedAt, StartedAt: r.StartedAt,
		FinishedAt: r.FinishedAt, DurationMS: r.DurationMS, ColdStart: r.ColdStart, ErrorType: r.ErrorType}, nil
}
