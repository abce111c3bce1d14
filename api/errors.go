package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/faaspot/faaspot/store"
)

// Error is an error meant for the client: an HTTP status, a stable code, a message and, for
// invalid input, the field at fault. Handlers return it; writeError renders it.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// RetryAfter, in seconds, is sent as the Retry-After header when set.
	RetryAfter int `json:"-"`
}

func (e *Error) Error() string { return e.Message }

func invalid(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_argument", Field: field, Message: fmt.Sprintf(format, args...)}
}

func notFound(kind, name string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf("%s %q not found", kind, name)}
}

func conflict(format string, args ...any) *Error {
	return &Error{Status: http.StatusConflict, Code: "not_ready", Message: fmt.Sprintf(format, args...)}
}

func tooLarge(field string, limit int64) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Field: field,
		Message: fmt.Sprintf("%s is larger than the limit of %d bytes", orBody(field), limit)}
}

func orBody(field string) string {
	if field == "" {
		return "the request body"
	}
	return field
}

var errUnauthorized = &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
	Message: `missing or unknown token: send "Authorization: Token <token>"`}

// writeError is the one place where errors become HTTP answers. Errors of the client's making are
// *Error values; store outages become 503; everything else is logged and answered with a generic
// 500 that reveals nothing internal.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var apiErr *Error
	var maxBytes *http.MaxBytesError
	switch {
	case errors.As(err, &apiErr):
	case errors.As(err, &maxBytes):
		apiErr = tooLarge("", maxBytes.Limit)
	case errors.Is(err, store.ErrUnavailable):
		log.Error("store unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		apiErr = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Message: "the service is temporarily unavailable", RetryAfter: 1}
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return // the client went away; nobody to answer
	default:
		log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		apiErr = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
	}
	if apiErr.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(apiErr.RetryAfter))
	}
	writeJSON(w, apiErr.Status, map[string]any{"error": apiErr})
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
