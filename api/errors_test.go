package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
)

// domainCodes returns the value of every ECode* constant of package faaspot, read from its source
// so that a code added there without a status here fails TestStatusOfEveryCode.
func domainCodes(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("../*.go")
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for name, obj := range file.Scope.Objects {
			if obj.Kind != ast.Con || !strings.HasPrefix(name, "ECode") {
				continue
			}
			spec := obj.Decl.(*ast.ValueSpec)
			lit, ok := spec.Values[0].(*ast.BasicLit)
			if !ok {
				t.Fatalf("%s is not a string literal", name)
			}
			codes[name], _ = strconv.Unquote(lit.Value)
		}
	}
	return codes
}

func TestStatusOfEveryCode(t *testing.T) {
	want := map[string]int{
		faaspot.ECodeInvalid:          400,
		faaspot.ECodeUnauthorized:     401,
		faaspot.ECodeForbidden:        403,
		faaspot.ECodeNotFound:         404,
		faaspot.ECodeMethodNotAllowed: 405,
		faaspot.ECodeNotReady:         409,
		faaspot.ECodeExists:           409,
		faaspot.ECodeTooLarge:         413,
		faaspot.ECodeBuildFailed:      422,
		faaspot.ECodeQuota:            429,
		faaspot.ECodeInternal:         500,
		faaspot.ECodeUnavailable:      503,
	}
	codes := domainCodes(t)
	if len(codes) != len(want) {
		t.Errorf("package faaspot declares %d codes, this test knows %d: %v", len(codes), len(want), codes)
	}
	for name, code := range codes {
		if _, ok := statusOf[code]; !ok {
			t.Errorf("%s (%q) has no HTTP status", name, code)
		}
	}
	for code, status := range want {
		if got := statusOf[code]; got != status {
			t.Errorf("status of %q = %d, want %d", code, got, status)
		}
	}
	if len(statusOf) != len(want) {
		t.Errorf("statusOf maps %d codes, want %d", len(statusOf), len(want))
	}
}

func TestWriteError(t *testing.T) {
	const internal = `{"error":{"code":"internal","message":"internal error"}}`
	tests := []struct {
		name       string
		err        error
		status     int
		body       string // exact JSON body
		retryAfter string // Retry-After header; "" for none
		logged     string // the log message; "" when not logged
	}{
		{name: "invalid field", err: faaspot.Invalid("name", "name must match %s", "x"), status: 400,
			body: `{"error":{"code":"invalid_argument","message":"name must match x","field":"name"}}`},
		{name: "wrapped *Error", err: fmt.Errorf("validate: %w", notFound("deployment", "fn")), status: 404,
			body: `{"error":{"code":"not_found","message":"deployment \"fn\" not found"}}`},
		{name: "ErrNotFound", err: fmt.Errorf("get fs:t:1:dep:fn: %w", faaspot.ErrNotFound), status: 404,
			body: `{"error":{"code":"not_found","message":"not found"}}`},
		{name: "ErrExists", err: fmt.Errorf("put fs:t:1: %w", faaspot.ErrExists), status: 409,
			body: `{"error":{"code":"exists","message":"already exists"}}`},
		{name: "ErrUnavailable", err: fmt.Errorf("dial tcp 10.1.2.3:6379: %w", faaspot.ErrUnavailable), status: 503,
			body:       `{"error":{"code":"unavailable","message":"the service is temporarily unavailable: its store (Redis) did not answer; try again shortly"}}`,
			retryAfter: "1", logged: "store unavailable"},
		{name: "ErrStoreFull", err: fmt.Errorf("record run: %w: %w: OOM command not allowed", faaspot.ErrUnavailable, faaspot.ErrStoreFull), status: 503,
			body:       `{"error":{"code":"unavailable","message":"the store is out of memory and refuses writes (reads still work); try again later, or ask the operator to free memory"}}`,
			retryAfter: "1", logged: "store out of memory"},
		{name: "ErrReplicas", err: fmt.Errorf("wait for replicas: %w: %w: 0 of 1 within 1s", faaspot.ErrUnavailable, faaspot.ErrReplicas), status: 503,
			body:       `{"error":{"code":"unavailable","message":"the service could not confirm the write on enough store replicas: it may or may not have been applied; repeat a run with the same Idempotency-Key"}}`,
			retryAfter: "1", logged: "too few replicas"},
		{name: "QuotaError", err: fmt.Errorf("enqueue: %w", &faaspot.QuotaError{What: "queued runs", Limit: 10}), status: 429,
			body: `{"error":{"code":"quota_exceeded","message":"quota exceeded: at most 10 queued runs"}}`, retryAfter: "1"},
		{name: "bare ErrQuota", err: faaspot.ErrQuota, status: 429,
			body: `{"error":{"code":"quota_exceeded","message":"quota exceeded"}}`, retryAfter: "1"},
		{name: "quota with a retry hint", err: quotaError(&faaspot.QuotaError{What: "deployments", Limit: 3}, 1500*time.Millisecond),
			status: 429, body: `{"error":{"code":"quota_exceeded","message":"quota exceeded: at most 3 deployments"}}`, retryAfter: "2"},
		{name: "MaxBytesError", err: fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 10}), status: 413,
			body: `{"error":{"code":"too_large","message":"the request body is larger than the limit of 10 bytes"}}`},
		{name: "unknown error", err: errors.New("redis: WRONGTYPE fs:t:secret"), status: 500, body: internal, logged: "internal error"},
		{name: "unknown code", err: faaspot.Errorf("teapot", "short and stout"), status: 500, body: internal, logged: "internal error"},
		{name: "internal code", err: faaspot.Errorf(faaspot.ECodeInternal, "decode fs:t:1: bad"), status: 500, body: internal,
			logged: "internal error"},
		{name: "context cancelled by the server", err: context.Canceled, status: 500, body: internal, logged: "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
			writeError(rec, r, slog.New(slog.NewTextHandler(&logs, nil)), tt.err)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if got := strings.TrimSuffix(rec.Body.String(), "\n"); got != tt.body {
				t.Errorf("body = %s\nwant   %s", got, tt.body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			switch {
			case tt.logged == "" && logs.Len() > 0:
				t.Errorf("a client error was logged: %s", logs.String())
			case tt.logged != "" && (!strings.Contains(logs.String(), "msg=\""+tt.logged+"\"") ||
				!strings.Contains(logs.String(), tt.err.Error())):
				t.Errorf("log = %q, want %q with the error", logs.String(), tt.logged)
			}
		})
	}
}

// TestWriteErrorClientGone: nothing is answered, nor logged, to a client that went away.
func TestWriteErrorClientGone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var logs bytes.Buffer
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/v1/x", nil).WithContext(ctx)
	writeError(rec, r, slog.New(slog.NewTextHandler(&logs, nil)), fmt.Errorf("wait: %w", context.Canceled))
	if rec.Body.Len() != 0 || logs.Len() != 0 {
		t.Errorf("answered %d %q, logged %q", rec.Code, rec.Body, logs.String())
	}
}
