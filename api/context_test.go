package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/faaspot/faaspot"
)

// tomlContext is text as a client sends it in the context field: a JSON string.
func tomlContext(text string) json.RawMessage {
	b, err := json.Marshal(text)
	if err != nil {
		panic(err)
	}
	return b
}

// dottedKey is a TOML key of n parts: a.a.a...
func dottedKey(n int) string { return strings.TrimSuffix(strings.Repeat("a.", n), ".") }

// inlineTables is x = {a = {a = ... 1 ...}} with n inline tables.
func inlineTables(n int) string {
	return "x = " + strings.Repeat("{a = ", n) + "1" + strings.Repeat("}", n)
}

// arrays is a = [[...[1]...]] with n arrays.
func arrays(n int) string { return "a = " + strings.Repeat("[", n) + "1" + strings.Repeat("]", n) }

// fill pads text with a TOML comment line up to size bytes.
func fill(text string, size int) string {
	if pad := size - len(text) - 3; pad > 0 {
		return text + "\n# " + strings.Repeat("x", pad)
	}
	return text
}

// TestParseContextDepth: a context nested deeper than maxJSONDepth (the top-level table counting
// as 1, as a JSON body's object does) is refused with a 400 naming "context", in every form a
// context takes; text at the size cap is judged without the TOML parser's cost on deep input.
func TestParseContextDepth(t *testing.T) {
	const limit = 64 << 10
	tests := []struct {
		name string
		raw  json.RawMessage
		ok   bool
	}{
		{"toml arrays at the limit", tomlContext(arrays(maxJSONDepth - 1)), true},
		{"toml arrays over the limit", tomlContext(arrays(maxJSONDepth)), false},
		{"toml arrays 5,000 deep (issue 9)", tomlContext(arrays(5000)), false},
		{"toml empty arrays 5,000 deep", tomlContext("a = " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000)), false},
		{"toml arrays filling the size cap", tomlContext(arrays(limit/2 - 8)), false},
		{"toml inline tables at the limit", tomlContext(inlineTables(maxJSONDepth - 1)), true},
		{"toml inline tables over the limit", tomlContext(inlineTables(maxJSONDepth)), false},
		{"toml inline tables filling the size cap", tomlContext(inlineTables(limit/6 - 4)), false},
		{"toml dotted key at the limit", tomlContext(dottedKey(maxJSONDepth) + " = 1"), true},
		{"toml dotted key over the limit", tomlContext(dottedKey(maxJSONDepth+1) + " = 1"), false},
		{"toml dotted key filling the size cap", tomlContext(dottedKey(limit/2-8) + " = 1"), false},
		{"toml table header at the limit", tomlContext("[" + dottedKey(maxJSONDepth-1) + "]\nk = 1"), true},
		{"toml table header over the limit", tomlContext("[" + dottedKey(maxJSONDepth) + "]\nk = 1"), false},
		{"toml table header filling the size cap", tomlContext("[" + dottedKey(limit/2-8) + "]\nk = 1"), false},
		{"toml array of tables over the limit", tomlContext("[[" + dottedKey(maxJSONDepth-1) + "]]\nk = 1"), false},
		{"toml header and dotted key, each under the limit", tomlContext("[" + dottedKey(20) + "]\n" + dottedKey(20) + " = 1"), false},
		{"toml header, key and inline table, each under the limit", tomlContext("[" + dottedKey(12) + "]\n" + dottedKey(12) + " = " + strings.Repeat("{a = ", 12) + "1" + strings.Repeat("}", 12)), false},
		{"toml brackets in strings and comments", tomlContext(fill(
			"p = \""+strings.Repeat("[{", 40)+"\"\nq = '"+strings.Repeat("[", 40)+"'\n"+
				"r = \"\"\"\n"+strings.Repeat("{", 40)+"\n\"\"\"\ns = '''"+strings.Repeat("[", 40)+"'''\n"+
				"t = \"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"\n# "+strings.Repeat("[", 40), limit-64)), true},
		{"toml quoted key with dots", tomlContext(`"` + strings.Repeat("a.", 40) + `" = 1`), true},
		{"toml long array of floats and dates", tomlContext("a = [" + strings.Repeat("1.5, 1979-05-27T07:32:00.999Z, ", 400) + "2.5]"), true},
		{"toml array of tables at the limit", tomlContext("[[" + dottedKey(maxJSONDepth-2) + "]]\nk = 1"), true},
		{"json object over the limit", json.RawMessage(`{"a":` + strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth) + `}`), false},
		{"json object at the limit", json.RawMessage(`{"a":` + strings.Repeat("[", maxJSONDepth-1) + strings.Repeat("]", maxJSONDepth-1) + `}`), true},
		{"json object in a string over the limit", tomlContext(`{"a":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`), false},
		{"json object in a string at the limit", tomlContext(`{"a":` + strings.Repeat("[", maxJSONDepth-1) + strings.Repeat("]", maxJSONDepth-1) + `}`), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.raw) > limit {
				t.Fatalf("test input of %d bytes is over the size cap", len(tc.raw))
			}
			m, err := parseContext(tc.raw, limit)
			if tc.ok {
				if err != nil || m == nil {
					t.Fatalf("parseContext = %v, %v; want it accepted", m != nil, err)
				}
				if d := valueDepth(m, maxJSONDepth+1); d > maxJSONDepth {
					t.Fatalf("accepted context nests %d deep", d)
				}
				return
			}
			e, ok := err.(*faaspot.Error)
			if !ok || e.Code != faaspot.ECodeInvalid || e.Field != "context" {
				t.Fatalf("parseContext error = %#v; want a 400 naming context", err)
			}
			if !strings.Contains(e.Message, "nested deeper than 32") {
				t.Errorf("message %q does not name the limit", e.Message)
			}
		})
	}
}

// TestValueDepth: depth counts maps and slices (the top level included), whatever the element
// types the TOML decoder produces, and stops counting past max.
func TestValueDepth(t *testing.T) {
	deep := any(1)
	for range 100 {
		deep = []any{deep}
	}
	for _, tc := range []struct {
		name string
		v    any
		want int
	}{
		{"scalar", "x", 0},
		{"empty map", map[string]any{}, 1},
		{"map of scalars", map[string]any{"a": 1, "b": "x"}, 1},
		{"map of a slice", map[string]any{"a": []any{1}}, 2},
		{"array of tables", map[string]any{"a": []map[string]any{{"b": map[string]any{}}}}, 4},
		{"deep, counted up to max+1", map[string]any{"a": deep}, 11},
	} {
		if got := valueDepth(tc.v, 10); got != tc.want {
			t.Errorf("%s: valueDepth = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestParseContextNonFinite: TOML's nan and inf have no JSON form (the context is stored and
// handed to the function as JSON), so they are refused with a 400 naming "context" rather than
// failing the deployment's write with a 500.
func TestParseContextNonFinite(t *testing.T) {
	for _, text := range []string{"k = nan", "k = +inf", "k = -inf", "k = [1.5, nan]", "[t]\nk = {v = inf}", "[[t]]\nk = -nan"} {
		_, err := parseContext(tomlContext(text), 64<<10)
		if e, ok := err.(*faaspot.Error); !ok || e.Code != faaspot.ECodeInvalid || e.Field != "context" {
			t.Errorf("parseContext(%q) error = %#v; want a 400 naming context", text, err)
		}
	}
	if m, err := parseContext(tomlContext("k = 1.5e300\nn = -0.0"), 64<<10); err != nil || m["k"] != 1.5e300 {
		t.Errorf("finite floats: %v, %v", m, err)
	}
}
