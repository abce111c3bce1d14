package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/faaspot/faaspot"
)

// namePattern is what a deployment name may be: letters of either case (names are
// case-sensitive), digits, '_', '-' and '.', starting with a letter or digit, at most 63
// characters. Names appear in Redis keys (never with ':') and URL paths, never in image tags,
// container labels or file paths: those use server-side ids.
const namePattern = `^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`

// tenantNamePattern is stricter: tenant names are the operator's, lower case.
const tenantNamePattern = `^[a-z0-9][a-z0-9_-]{0,62}$`

var nameRE, tenantNameRE = regexp.MustCompile(namePattern), regexp.MustCompile(tenantNamePattern)

func validName(s string) bool       { return nameRE.MatchString(s) }
func validTenantName(s string) bool { return tenantNameRE.MatchString(s) }

// decodeBody decodes a JSON object body into v, refusing unknown fields, trailing data and bodies
// over limit. Errors are *faaspot.Error values naming the field when the decoder knows it.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return tooLarge("", limit)
		}
		return faaspot.Invalid("", "cannot read the request body: %v", err)
	}
	if err := checkDepth(body, maxJSONDepth, ""); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return faaspot.Invalid("", "the request body must hold one JSON object")
	}
	return nil
}

// maxJSONDepth bounds the nesting of any JSON the API accepts (arrays and objects).
const maxJSONDepth = 32

// checkDepth refuses JSON nested deeper than max: deep nesting costs the decoder stack and
// memory out of proportion to its size. Malformed JSON is left to the decoder to report.
func checkDepth(data []byte, max int, field string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if depth++; depth > max {
				return faaspot.Invalid(field, "JSON nested deeper than %d levels", max)
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// jsonError turns a decoding error into a 400 naming the field where possible.
func jsonError(err error) *faaspot.Error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return faaspot.Invalid(te.Field, "%s must be a %s, not a JSON %s", orBody(te.Field), jsonKind(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se):
		return faaspot.Invalid("", "malformed JSON at byte %d: %v", se.Offset, err)
	case errors.Is(err, io.EOF):
		return faaspot.Invalid("", "the request body is empty; a JSON object is required")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return faaspot.Invalid(f, "unknown field %q", f)
	}
	return faaspot.Invalid("", "malformed JSON: %v", err)
}

func jsonKind(k string) string {
	switch k {
	case "map", "struct":
		return "JSON object"
	case "float64", "int", "int64":
		return "number"
	}
	return k
}

// maybeUnquote undoes the percent-encoding the FaaSpot docs suggest for code, requirements and
// context (Python's quote()). Only a text made entirely of what quote() leaves unescaped (letters,
// digits, "_.-~/") plus %XX escapes is taken as encoded; any other character (a space, "=", a
// quote...) proves the text is plain, and it is returned unchanged.
func maybeUnquote(s string) string {
	if !strings.Contains(s, "%") || strings.IndexFunc(s, notQuoteSafe) >= 0 {
		return s
	}
	dec, err := url.PathUnescape(s)
	if err != nil || !utf8.ValidString(dec) {
		return s
	}
	return dec
}

func notQuoteSafe(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("_.-~/%", r)
}

// parseContext accepts the context as a JSON object, a string holding a JSON object, or a string
// in the FaaSpot context-file format (TOML: key = "value" lines). It returns nil for no context.
// Whatever its form, a context nested deeper than maxJSONDepth (the top level counting 1) is
// refused: a 400 naming "context", like every other refusal here (a 413 when over limit).
func parseContext(raw json.RawMessage, limit int64) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if int64(len(raw)) > limit {
		return nil, tooLarge("context", limit)
	}
	var text string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, faaspot.Invalid("context", "context is not a valid JSON string: %v", err)
		}
		text = strings.TrimSpace(maybeUnquote(text))
		if text == "" {
			return nil, nil
		}
		if !strings.HasPrefix(text, "{") {
			return parseContextFile(text)
		}
		raw = []byte(text)
	}
	if err := checkDepth(raw, maxJSONDepth, "context"); err != nil {
		return nil, err
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep large integers exact
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		return nil, faaspot.Invalid("context", `context must be a JSON object or context-file text (key = "value" lines)`)
	}
	return m, checkContextKeys(m)
}

// parseContextFile parses the context-file format: TOML, typically key = "value" lines. Text
// whose brackets, braces and key dots already nest deeper than maxJSONDepth is refused before the
// TOML parser sees it (its cost grows with the square of the depth: seconds, then minutes, at the
// size cap); the decoded value's own depth is checked after.
func parseContextFile(text string) (map[string]any, error) {
	tooDeep := faaspot.Invalid("context", "context file nested deeper than %d levels (tables, arrays and dotted keys count)", maxJSONDepth)
	if tomlNesting(text, maxJSONDepth) > maxJSONDepth {
		return nil, tooDeep
	}
	m := map[string]any{}
	if _, err := toml.Decode(text, &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, faaspot.Invalid("context", "context file line %d: %s", pe.Position.Line, pe.Message)
		}
		return nil, faaspot.Invalid("context", "context file: %v", err)
	}
	if valueDepth(m, maxJSONDepth) > maxJSONDepth {
		return nil, tooDeep
	}
	if !finite(m) {
		return nil, faaspot.Invalid("context", "context file numbers must be finite: JSON, in which the function gets its context, has no nan or inf")
	}
	return m, checkContextKeys(m)
}

// valueDepth is the nesting depth of a decoded context as checkDepth counts JSON: 0 for a
// scalar, 1 plus its deepest element for a table or an array (the TOML decoder's map[string]any,
// []any and []map[string]any). It descends at most limit+1 levels and returns
// min(depth, limit+1).
func valueDepth(v any, limit int) int {
	deepest := 0
	visit := func(e any) bool { // false once nothing deeper can change the answer
		deepest = max(deepest, valueDepth(e, limit-1))
		return deepest < limit
	}
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if limit <= 0 || !visit(e) {
				break
			}
		}
	case []any:
		for _, e := range x {
			if limit <= 0 || !visit(e) {
				break
			}
		}
	case []map[string]any:
		for _, e := range x {
			if limit <= 0 || !visit(e) {
				break
			}
		}
	default:
		return 0
	}
	return 1 + deepest
}

// finite reports whether every number in a decoded context is finite: TOML has nan and inf,
// JSON (in which the context is stored and handed to the function) has neither. v must be
// nested no deeper than maxJSONDepth (valueDepth first).
func finite(v any) bool {
	switch x := v.(type) {
	case float64:
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	case map[string]any:
		for _, e := range x {
			if !finite(e) {
				return false
			}
		}
	case []any:
		for _, e := range x {
			if !finite(e) {
				return false
			}
		}
	case []map[string]any:
		for _, e := range x {
			if !finite(e) {
				return false
			}
		}
	}
	return true
}

// tomlNesting bounds from below the depth valueDepth will find in TOML text, reading it once and
// stopping as soon as it passes limit. Outside strings and comments, every [ or { opens a level
// holding the key dots seen before it, and key dots add one level each (a dotted key a.b.c = 1
// nests two tables); a scalar adds at most one dot of its own (1.5, 07:32:00.999), which stands
// for the table or array holding it; the keys under a table header start at the header's depth.
// It never counts more than the parser builds (text is refused only when its parsed value would
// be), and at least half of it (an array of tables on a header's path hides one level), so the
// parser never builds much more than twice limit.
func tomlNesting(text string, limit int) int {
	var bases []int // the depth at each open [ or {
	base, dots, deepest := 0, 0, 0
	header, inHeader, lineStart := 0, false, true // the depth of the last table header
	for i := 0; i < len(text) && deepest <= limit; i++ {
		c := text[i]
		switch c {
		case '[', '{':
			if c == '[' && lineStart && len(bases) == 0 {
				header, inHeader = 0, true // a table header: its path is absolute
			}
			bases = append(bases, base)
			base, dots = base+1+dots, 0
		case ']', '}':
			if n := len(bases); n > 0 {
				base, bases = bases[n-1], bases[:n-1]
			}
			inHeader, dots = inHeader && len(bases) > 0, 0
		case ',', '\n':
			dots = 0
		case '.':
			dots++
		case '#':
			i = skipLine(text, i) - 1 // the newline ends the comment and resets the dots
		case '"', '\'':
			i = skipTOMLString(text, i) - 1
		}
		lineStart = c == '\n' || (lineStart && (c == ' ' || c == '\t' || c == '\r'))
		level := base + dots
		if inHeader {
			header = max(header, level)
		} else {
			level += header
		}
		deepest = max(deepest, level)
	}
	return deepest
}

// skipLine returns the index of the newline ending the line at i, or len(text).
func skipLine(text string, i int) int {
	if n := strings.IndexByte(text[i:], '\n'); n >= 0 {
		return i + n
	}
	return len(text)
}

// skipTOMLString returns the index just past the string opening at text[i] (" or '): a basic
// string with backslash escapes, a literal one without, either one-line (ended at the line's
// end if unterminated, where the parser stops too) or multi-line (opened by three quotes of
// either kind, closed by the same three plus up to two more of them).
func skipTOMLString(text string, i int) int {
	q := text[i]
	escapes := q == '"'
	if delim := strings.Repeat(string(q), 3); strings.HasPrefix(text[i:], delim) {
		for j := i + 3; j < len(text); j++ {
			switch {
			case escapes && text[j] == '\\':
				j++
			case strings.HasPrefix(text[j:], delim):
				j += 3
				for k := 0; k < 2 && j < len(text) && text[j] == q; k++ {
					j++
				}
				return j
			}
		}
		return len(text)
	}
	for j := i + 1; j < len(text); j++ {
		switch text[j] {
		case '\\':
			if escapes {
				j++
			}
		case q:
			return j + 1
		case '\n':
			return j
		}
	}
	return len(text)
}

func checkContextKeys(m map[string]any) error {
	for k := range m {
		if k == "" || len(k) > 256 {
			return faaspot.Invalid("context", "context keys must be 1 to 256 characters")
		}
	}
	return nil
}

// resolveLimits fills unset limits from the defaults and refuses values outside (0, max].
func resolveLimits(in *faaspot.Limits, def, max faaspot.Limits) (faaspot.Limits, error) {
	out := def
	if in == nil {
		return out, nil
	}
	if in.MemoryMB != 0 {
		if in.MemoryMB < 16 || in.MemoryMB > max.MemoryMB {
			return out, faaspot.Invalid("limits.memory_mb", "memory_mb must be between 16 and %d", max.MemoryMB)
		}
		out.MemoryMB = in.MemoryMB
	}
	if in.CPUs != 0 {
		if in.CPUs < 0.01 || in.CPUs > max.CPUs {
			return out, faaspot.Invalid("limits.cpus", "cpus must be between 0.01 and %g", max.CPUs)
		}
		out.CPUs = in.CPUs
	}
	if in.TimeoutS != 0 {
		if in.TimeoutS < 1 || in.TimeoutS > max.TimeoutS {
			return out, faaspot.Invalid("limits.timeout_s", "timeout_s must be between 1 and %d", max.TimeoutS)
		}
		out.TimeoutS = in.TimeoutS
	}
	return out, nil
}

// parseArgs builds a run's args from the request: see mergeArgs.
func parseArgs(w http.ResponseWriter, r *http.Request, limit int64) (json.RawMessage, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &mb):
		return nil, tooLarge("args", limit)
	case err != nil:
		return nil, faaspot.Invalid("args", "cannot read the request body: %v", err)
	}
	out, err := mergeArgs(r.URL.Query(), body)
	if err == nil && int64(len(out)) > limit {
		return nil, tooLarge("args", limit)
	}
	return out, err
}

// mergeArgs builds a run's args: query parameters as strings (the last of repeated ones), merged
// with (and overridden by) a JSON object body. Any other body, or one nested too deep, is refused.
func mergeArgs(query url.Values, body []byte) (json.RawMessage, error) {
	args := map[string]any{}
	for k, vs := range query {
		args[k] = vs[len(vs)-1]
	}
	if body = bytes.TrimSpace(body); len(body) > 0 {
		if err := checkDepth(body, maxJSONDepth, "args"); err != nil {
			return nil, err
		}
		var extra map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&extra); err != nil || extra == nil || dec.More() {
			return nil, faaspot.Invalid("args", "the request body must be a JSON object of arguments")
		}
		for k, v := range extra {
			args[k] = v
		}
	}
	out, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("encode args: %w", err)
	}
	return out, nil
}
