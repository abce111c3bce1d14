package metrics

import (
	"net/http"
	"strconv"
	"time"
)

// RouteUnmatched is the route label of a request that no route matched (404s and 405s): its path
// is never a label value.
const RouteUnmatched = "unmatched"

// MethodOther is the method label of a request whose method is not one of knownMethods.
const MethodOther = "other"

// knownMethods are the method label values besides MethodOther. Methods are case-sensitive
// (RFC 9110 §9.1): "get" is not GET and is counted as MethodOther.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodPut: true, http.MethodDelete: true,
	http.MethodHead: true, http.MethodOptions: true, http.MethodPatch: true,
}

// MethodLabel returns the method label of a request: the method when it is GET, POST, PUT,
// DELETE, HEAD, OPTIONS or PATCH, MethodOther otherwise. A client chooses its request's method
// freely, so the raw text must never become a label (each value is a series kept forever).
func MethodLabel(method string) string {
	if knownMethods[method] {
		return method
	}
	return MethodOther
}

// codeLabel returns the status code label: the code when it is a valid HTTP status (100–599),
// MethodOther otherwise.
func codeLabel(code int) string {
	if code < 100 || code > 599 {
		return MethodOther
	}
	return strconv.Itoa(code)
}

// ObserveHTTP counts one answered request and its latency. route must be a route template or
// RouteUnmatched, never request text; method may be the raw request method (see MethodLabel).
func (m *Metrics) ObserveHTTP(route, method string, code int, elapsed time.Duration) {
	method = MethodLabel(method)
	m.HTTPRequests.WithLabelValues(route, method, codeLabel(code)).Inc()
	m.HTTPDuration.WithLabelValues(route, method).Observe(elapsed.Seconds())
}
