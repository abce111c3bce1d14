package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/faaspot/faaspot"
)

// statusOf maps each error code to its HTTP status: the one place where a code becomes a status.
// An error whose code is missing here is answered as an internal error.
var statusOf = map[string]int{
	faaspot.ECodeInvalid:          http.StatusBadRequest,
	faaspot.ECodeUnauthorized:     http.StatusUnauthorized,
	faaspot.ECodeForbidden:        http.StatusForbidden,
	faaspot.ECodeNotFound:         http.StatusNotFound,
	faaspot.ECodeMethodNotAllowed: http.StatusMethodNotAllowed,
	faaspot.ECodeNotReady:         http.StatusConflict,
	faaspot.ECodeExists:           http.StatusConflict,
	faaspot.ECodeTooLarge:         http.StatusRequestEntityTooLarge,
	faaspot.ECodeBuildFailed:      http.StatusUnprocessableEntity,
	faaspot.ECodeQuota:            http.StatusTooManyRequests,
	faaspot.ECodeInternal:         http.StatusInternalServerError,
	faaspot.ECodeUnavailable:      http.StatusServiceUnavailable,
}

// sentinelRetry is the Retry-After of a quota or outage error that comes without a better hint.
const sentinelRetry = time.Second

// writeError is the one place where errors become HTTP answers. A *faaspot.Error is answered as
// it is (its code gives the status); the faaspot sentinels, *faaspot.QuotaError and
// *http.MaxBytesError become their codes with generic messages; store outages and every other
// error are logged and answered without their text, which may hold internals. Nothing is written
// when the client has gone away.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return
	}
	e, logAs := publicError(err)
	if logAs != "" {
		log.Error(logAs, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(e.RetryAfter)))
	}
	writeJSON(w, statusOf[e.Code], faaspot.ErrorResponse{Error: e})
}

// publicError returns what the client may see of err, and the log message when err must be logged
// ("" when it is the client's own doing).
func publicError(err error) (e *faaspot.Error, logAs string) {
	var fe *faaspot.Error
	var mb *http.MaxBytesError
	var qe *faaspot.QuotaError
	switch {
	case errors.As(err, &fe):
		if _, known := statusOf[fe.Code]; !known || fe.Code == faaspot.ECodeInternal {
			return internalError(), "internal error"
		}
		return fe, ""
	case errors.As(err, &mb):
		return tooLarge("", mb.Limit), ""
	case errors.As(err, &qe):
		return quotaError(qe, sentinelRetry), ""
	case errors.Is(err, faaspot.ErrQuota):
		return &faaspot.Error{Code: faaspot.ECodeQuota, Message: "quota exceeded", RetryAfter: sentinelRetry}, ""
	case errors.Is(err, faaspot.ErrNotFound):
		return faaspot.Errorf(faaspot.ECodeNotFound, "not found"), ""
	case errors.Is(err, faaspot.ErrExists):
		return faaspot.Errorf(faaspot.ECodeExists, "already exists"), ""
	case errors.Is(err, faaspot.ErrStoreFull):
		return &faaspot.Error{Code: faaspot.ECodeUnavailable, Message: "the store is out of memory and refuses writes " +
			"(reads still work); try again later, or ask the operator to free memory", RetryAfter: sentinelRetry}, "store out of memory"
	case errors.Is(err, faaspot.ErrReplicas):
		return &faaspot.Error{Code: faaspot.ECodeUnavailable, Message: "the service could not confirm the write on enough " +
			"store replicas: it may or may not have been applied; repeat a run with the same Idempotency-Key", RetryAfter: sentinelRetry}, "too few replicas"
	case errors.Is(err, faaspot.ErrUnavailable):
		return &faaspot.Error{Code: faaspot.ECodeUnavailable, Message: "the service is temporarily unavailable: " +
			"its store (Redis) did not answer; try again shortly", RetryAfter: sentinelRetry}, "store unavailable"
	}
	return internalError(), "internal error"
}

// retrySeconds is the Retry-After header's value for d: whole seconds, at least 1.
func retrySeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

func internalError() *faaspot.Error {
	return faaspot.Errorf(faaspot.ECodeInternal, "internal error")
}

func unauthorized() *faaspot.Error {
	return faaspot.Errorf(faaspot.ECodeUnauthorized, `missing or unknown token: send "Authorization: Token <token>"`)
}

func notFound(kind, name string) *faaspot.Error {
	return faaspot.Errorf(faaspot.ECodeNotFound, "%s %q not found", kind, name)
}

func notReady(format string, args ...any) *faaspot.Error {
	return faaspot.Errorf(faaspot.ECodeNotReady, format, args...)
}

func tooLarge(field string, limit int64) *faaspot.Error {
	return &faaspot.Error{Code: faaspot.ECodeTooLarge, Field: field,
		Message: fmt.Sprintf("%s is larger than the limit of %d bytes", orBody(field), limit)}
}

func orBody(field string) string {
	if field == "" {
		return "the request body"
	}
	return field
}

// ifNotFound returns e when err is faaspot.ErrNotFound (a message naming what is missing), err
// otherwise.
func ifNotFound(err error, e *faaspot.Error) error {
	if errors.Is(err, faaspot.ErrNotFound) {
		return e
	}
	return err
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
