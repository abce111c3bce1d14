package registry

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Address
		wantErr bool
	}{
		{in: "", want: Address{}},
		{in: "127.0.0.1:5000", want: Address{Host: "127.0.0.1:5000"}},
		{in: "registry.example.com:443/team/faas", want: Address{Host: "registry.example.com:443", Prefix: "team/faas"}},
		{in: "localhost:5000/a_b-c.d/", want: Address{Host: "localhost:5000", Prefix: "a_b-c.d"}},
		{in: "[::1]:5000", want: Address{Host: "[::1]:5000"}},
		{in: "http://127.0.0.1:5000", wantErr: true},
		{in: "127.0.0.1", wantErr: true},
		{in: "127.0.0.1:0", wantErr: true},
		{in: "127.0.0.1:70000", wantErr: true},
		{in: "127.0.0.1:5000/faas:latest", wantErr: true},
		{in: "127.0.0.1:5000/faas@sha256:abc", wantErr: true},
		{in: "127.0.0.1:5000/Team", wantErr: true},
		{in: "127.0.0.1:5000//x", wantErr: true},
		{in: "bad_host:5000", wantErr: true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestNaming(t *testing.T) {
	a := Address{Host: "reg:5000", Prefix: "team"}
	if got := a.Qualify("faaspot/t-1/d-2"); got != "reg:5000/team/faaspot/t-1/d-2" {
		t.Errorf("Qualify = %q", got)
	}
	if got, ok := a.Local("reg:5000/team/faaspot/t-1/d-2:h"); !ok || got != "faaspot/t-1/d-2:h" {
		t.Errorf("Local = %q, %v", got, ok)
	}
	if _, ok := a.Local("reg:5000/other/faaspot/t-1/d-2:h"); ok {
		t.Error("Local took a name of another prefix as the registry's")
	}
	if got := a.Path("faaspot/t-1/d-2"); got != "team/faaspot/t-1/d-2" {
		t.Errorf("Path = %q", got)
	}
	var none Address
	if got := none.Qualify("faaspot/t-1/d-2"); got != "faaspot/t-1/d-2" {
		t.Errorf("Qualify without a registry = %q, want the name unchanged", got)
	}
	if _, ok := none.Local("faaspot/t-1/d-2:h"); ok {
		t.Error("no registry names nothing")
	}
}
