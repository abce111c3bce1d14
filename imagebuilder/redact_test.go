package imagebuilder

import (
	"errors"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://user:secret@127.0.0.1:8080/simple", "http://***@127.0.0.1:8080/simple"},
		{"Looking in indexes: https://token@pypi.example/simple/ and http://a:b@c/d", "Looking in indexes: https://***@pypi.example/simple/ and http://***@c/d"},
		{"https://pypi.org/simple", "https://pypi.org/simple"},
		{"mail user@example.com", "mail user@example.com"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestRedactor: the index's secret leaves no trace in a log, in a URL or alone, encoded or not.
func TestRedactor(t *testing.T) {
	tests := []struct {
		name, index, text string
		gone              []string
		kept              string
	}{
		{name: "password", index: "http://user:s3cr%2Fet@127.0.0.1:1/simple",
			text: "Looking in indexes: http://user:****@127.0.0.1:1/simple\nfailed for s3cr/et and s3cr%2Fet\n",
			gone: []string{"s3cr/et", "s3cr%2Fet", "user:"}, kept: "Looking in indexes: http://***@127.0.0.1:1/simple"},
		{name: "token as user name", index: "https://tok3n-abc@pypi.example/simple",
			text: "GET https://tok3n-abc@pypi.example/simple/x/ 401; token tok3n-abc", gone: []string{"tok3n-abc"}},
		{name: "no credentials", index: "http://127.0.0.1:1/simple", text: "user secret", kept: "user secret"},
		{name: "short password only from URLs", index: "http://u:ab@h/simple", text: "http://u:ab@h/simple cab",
			gone: []string{"u:ab@"}, kept: "cab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRedactor(tt.index)
			got := r.text(tt.text)
			for _, s := range tt.gone {
				if strings.Contains(got, s) {
					t.Errorf("text(%q) = %q keeps %q", tt.text, got, s)
				}
			}
			if !strings.Contains(got, tt.kept) {
				t.Errorf("text(%q) = %q lost %q", tt.text, got, tt.kept)
			}
			err := r.buildError(&BuildError{Kind: ErrBuildFailed, Message: tt.text, Log: tt.text})
			var be *BuildError
			if !errors.As(err, &be) || be.Message != got || be.Log != got || !errors.Is(err, ErrBuildFailed) {
				t.Errorf("buildError = %+v, want message and log %q", err, got)
			}
		})
	}
	other := errors.New("engine down")
	if newRedactor("http://u:secret@h/").buildError(other) != other {
		t.Error("buildError changed an error that is no *BuildError")
	}
}

func TestRedactedIndex(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:secret@127.0.0.1:1/simple": "http://127.0.0.1:1/simple",
		"https://tok@pypi.example/simple":       "https://pypi.example/simple",
		"https://pypi.org/simple":               "https://pypi.org/simple",
		"":                                      "",
	} {
		if got := redactedIndex(in); got != want {
			t.Errorf("redactedIndex(%q) = %q, want %q", in, got, want)
		}
	}
}
