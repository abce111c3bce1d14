package api

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/faaspot/faaspot"
)

// FuzzParseContext: any context text is either refused with a 400/413 naming "context", or
// accepted as a JSON-encodable object nested no deeper than maxJSONDepth.
func FuzzParseContext(f *testing.F) {
	for _, seed := range []string{
		`"access_key_is = \"XYZ\"\nsecret_access_key = \"123\"\n"`,
		`{"k": "v", "n": 1}`, `"{\"k\": \"v\"}"`, `"k = 1\n[table]\nx = \"y\""`, `""`, `null`, `[1]`, `"= broken"`,
		`"access_key_is%20%3D%20%22XYZ%22"`,
		string(tomlContext(arrays(40))), string(tomlContext(inlineTables(40))), string(tomlContext(dottedKey(40) + " = 1")),
		string(tomlContext("[" + dottedKey(20) + "]\n" + dottedKey(20) + " = 1")),
		string(tomlContext(`{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`)),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := parseContext(raw, 64<<10)
		if err != nil {
			e, ok := err.(*faaspot.Error)
			if !ok || e.Field != "context" || (e.Code != faaspot.ECodeInvalid && e.Code != faaspot.ECodeTooLarge) {
				t.Fatalf("parseContext(%q) error %#v: want a 400/413 on field context", raw, err)
			}
			return
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("accepted context %q does not encode: %v", raw, err)
		}
		if checkDepth(out, maxJSONDepth, "") != nil {
			t.Fatalf("accepted context %q nests deeper than the limit: %s", raw, out)
		}
	})
}

// FuzzTOMLNesting: the pre-scan of context-file text never counts more levels than the parsed
// value has (so it refuses nothing the check after parsing would accept), and at least half.
func FuzzTOMLNesting(f *testing.F) {
	for _, seed := range []string{
		`k = "v"`, "a.b.c = 1.5", "[a.b]\nc.d = [1.5, {e = 2}]", "[[a]]\n[[a.b]]\n[[a.b.c]]\nk = 1",
		"x = {a.b = {c = [1979-05-27T07:32:00.999Z]}}", "p = \"[[{{\" # [[[\nq = '''\n{{{\n'''",
		`r = """\"""[["""` + "\ns = 1", `"a.b".c = 1`, "a = [\n  [1],\n  [[2]],\n]", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		const limit = 64
		scan := tomlNesting(text, limit)
		if scan > limit {
			return // refused before parsing
		}
		m := map[string]any{}
		if _, err := toml.Decode(text, &m); err != nil {
			return
		}
		if got := valueDepth(m, 3*limit); scan > got || got > 2*scan+2 {
			t.Fatalf("tomlNesting(%q) = %d for a value %d deep", text, scan, got)
		}
	})
}

// FuzzMergeArgs: args are either refused on field "args", or a JSON object holding every query
// parameter not overridden by the body.
func FuzzMergeArgs(f *testing.F) {
	for _, seed := range []struct{ query, body string }{
		{"name=user1", ""}, {"a=1&a=2", `{"b": 2}`}, {"x=y", `{"x": [1, {"z": null}]}`}, {"", `[1,2]`},
		{"", `{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`}, {"", `{"a": 1} {"b": 2}`}, {"", `"str"`},
	} {
		f.Add(seed.query, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		out, err := mergeArgs(q, body)
		if err != nil {
			if e, ok := err.(*faaspot.Error); !ok || e.Field != "args" || e.Code != faaspot.ECodeInvalid {
				t.Fatalf("mergeArgs error %#v: want a 400 on field args", err)
			}
			return
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil || m == nil {
			t.Fatalf("mergeArgs gave %s, not a JSON object", out)
		}
		if checkDepth(out, maxJSONDepth+1, "") != nil {
			t.Fatalf("accepted args nest deeper than the limit: %s", out)
		}
	})
}

func TestMaybeUnquote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"def%20main%28args%2C%20context%29%3A%0A%20%20%20%20return%201%0A", "def main(args, context):\n    return 1\n"},
		{"Jinja2%3D%3D2.7.2", "Jinja2==2.7.2"},
		{"Jinja2==2.7.2", "Jinja2==2.7.2"},
		{`k="p%41ss"`, `k="p%41ss"`},
		{"def main(a, c): return '100%'", "def main(a, c): return '100%'"},
		{"abc%zz", "abc%zz"},
		{"%FF%FE", "%FF%FE"},
	} {
		if got := maybeUnquote(tc.in); got != tc.want {
			t.Errorf("maybeUnquote(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
