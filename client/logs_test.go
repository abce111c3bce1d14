package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLogs: Logs asks for a follow when told to, hands each piece to fn as it is read, returns
// the last line, and reports an answer cut short and an error answer.
func TestLogs(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		want   string // the pieces, joined
		last   LogLine
		err    func(error) bool
	}{
		{name: "pieces then the last line", status: http.StatusOK,
			body: `{"stream":"stdout","data":"a\n"}` + "\n" + `{"stream":"stderr","data":"w"}` + "\n" +
				`{"status":"completed","stdout_truncated":true,"stderr_truncated":false}` + "\n",
			want: "stdout:a\n|stderr:w", last: LogLine{Status: "completed", StdoutTruncated: true}},
		{name: "cut short", status: http.StatusOK, body: `{"stream":"stdout","data":"a"}` + "\n" + `{"stream":"std`,
			want: "stdout:a", err: func(err error) bool { return errors.Is(err, ErrLogsCut) }},
		{name: "not found", status: http.StatusNotFound, body: `{"error":{"code":"not_found","message":"execution \"x\" not found"}}`,
			err: func(err error) bool { return IsStatus(err, http.StatusNotFound) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/executions/e1/logs" || r.URL.Query().Get("follow") != "true" ||
					r.Header.Get("Authorization") != "Token tok" {
					http.Error(w, "bad request "+r.URL.String(), http.StatusTeapot)
					return
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			var got []string
			last, err := New(srv.URL, "tok").Logs(context.Background(), "e1", true, func(l LogLine) error {
				got = append(got, l.Stream+":"+l.Data)
				return nil
			})
			if tt.err != nil && !tt.err(err) || tt.err == nil && err != nil {
				t.Fatalf("Logs error = %v", err)
			}
			if strings.Join(got, "|") != tt.want || last != tt.last {
				t.Errorf("pieces %q, last %+v; want %q, %+v", got, last, tt.want, tt.last)
			}
		})
	}
}
