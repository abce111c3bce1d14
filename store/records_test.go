package store

import (
	"context"
	"encoding/json"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/faaspot/faaspot"
)

// newTestClient returns a client of a fresh miniredis, over in-memory pipes.
func newTestClient(tb testing.TB) (*miniredis.Miniredis, *redis.Client) {
	tb.Helper()
	mr := miniredis.NewMiniRedis()
	tb.Cleanup(mr.Close)
	rdb := redis.NewClient(&redis.Options{
		Dialer:                   func(context.Context, string, string) (net.Conn, error) { return mr.Dial() },
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	tb.Cleanup(func() { _ = rdb.Close() })
	return mr, rdb
}

// newTestStore returns a store under the prefix "fs:" over a fresh miniredis.
func newTestStore(tb testing.TB) (*Store, *miniredis.Miniredis) {
	tb.Helper()
	mr, rdb := newTestClient(tb)
	s, err := New(rdb, Options{Prefix: "fs:", ResultTTL: time.Hour, RunCap: 4, SecretKey: make([]byte, KeySize)})
	if err != nil {
		tb.Fatal(err)
	}
	return s, mr
}

// mustAllSet fails unless every field of v, through pointers and nested structs, is set: a
// round trip of such a value shows that no field is dropped on the way.
func mustAllSet(tb testing.TB, v any) {
	tb.Helper()
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		switch {
		case v.IsZero():
			tb.Fatalf("%s is not set: the fixture must set every field", path)
		case v.Kind() == reflect.Pointer:
			walk(path, v.Elem())
		case v.Kind() == reflect.Struct && v.Type() != reflect.TypeFor[time.Time]():
			for i := range v.NumField() {
				walk(path+"."+v.Type().Field(i).Name, v.Field(i))
			}
		}
	}
	walk(reflect.TypeOf(v).Name(), reflect.ValueOf(v))
}

var recordTime = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

// fullDeployment and fullExecution set every field.
func fullDeployment() faaspot.Deployment {
	idle, prewarm := 2, 1
	return faaspot.Deployment{ID: "9f2c4e6a8b0d1e3f", Name: "fn", Version: 2, Status: faaspot.StatusFailed,
		Error: "the code defines no main", BuildLog: "no main\n", ReadyVersion: 1, RolledBackAt: 2,
		Limits:      faaspot.Limits{MemoryMB: 256, CPUs: 0.5, TimeoutS: 30},
		Warm:        &faaspot.WarmPolicy{MaxIdle: &idle, Prewarm: &prewarm, MaxRuns: 10, IdleTTLS: 300, Isolation: faaspot.IsolationFork},
		Retry:       &faaspot.RetryPolicy{MaxAttempts: 3, BackoffS: 1.5},
		CallbackURL: "https://hooks.example.test/faaspot?k=1",
		ContextKeys: []string{"api_key", "region"}, CreatedAt: recordTime, UpdatedAt: recordTime.Add(time.Hour),
		Image: "faaspot/t1-fn:1"}
}

func fullExecution() faaspot.Execution {
	started, finished, code := recordTime.Add(250*time.Millisecond), recordTime.Add(1250*time.Millisecond), 137
	return faaspot.Execution{ID: "0123456789abcdef0123456789abcdef", Deployment: "fn", Version: 1, Pinned: true, IdempotencyKey: "order-42", Attempts: 2,
		Status: faaspot.ExecFailed, Args: json.RawMessage(`{"x":1}`), Result: json.RawMessage(`[1,2]`),
		Error: &faaspot.ExecError{Type: "MemoryError", Message: "killed", Traceback: "Traceback ...\n",
			MessageTruncated: true, TracebackTruncated: true},
		Stdout: "out\n", Stderr: "err\n", StdoutTruncated: true, StderrTruncated: true,
		CreatedAt: recordTime, StartedAt: &started, FinishedAt: &finished,
		QueueMS: 250, AcquireMS: 12.5, DurationMS: 1000, CPUMS: 420.5, Usage: &faaspot.ExecUsage{WallMS: 1500, CPUMS: 600, GBSeconds: 0.1875}, ColdStart: true, ExitCode: &code, OOMKilled: true,
		Callback: &faaspot.Callback{URL: "https://hooks.example.test/e", State: faaspot.CallbackFailed, Attempts: 3,
			LastStatus: 503, LastError: "no answer in time", DeliveredAt: &finished}}
}

// TestRecordsRoundTrip: every field of a deployment and an execution survives being stored and
// read back, the deployment's image included (the API's JSON leaves it out, the record keeps it).
func TestRecordsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, mr := newTestStore(t)
	d, e := fullDeployment(), fullExecution()
	mustAllSet(t, d)
	mustAllSet(t, e)

	if b, _ := json.Marshal(d); strings.Contains(string(b), d.Image) {
		t.Fatalf("the API's JSON of a deployment shows its image: %s", b)
	}
	rec := encodeDeployment(d)
	var fields map[string]any
	if err := json.Unmarshal(rec, &fields); err != nil || fields["image"] != d.Image {
		t.Errorf("stored deployment %s, %v; want the image under \"image\"", rec, err)
	}
	if err := mr.Set(keys{p: "fs:"}.dep("t1", "fn"), string(rec)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetDeployment(ctx, "t1", "fn"); err != nil || !reflect.DeepEqual(got, d) {
		t.Errorf("GetDeployment = %+v, %v\nwant %+v", got, err, d)
	}

	if err := s.MarkRunning(ctx, "t1", e); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetExecution(ctx, "t1", e.ID); err != nil || !reflect.DeepEqual(got, e) {
		t.Errorf("GetExecution = %+v, %v\nwant %+v", got, err, e)
	}
	// A run of the ready version (v1, which has no record here: an earlier release's) runs with
	// the deployment record as it is. (The fixture's status is terminal: forget its summary so
	// that MarkRunning writes again.)
	e.Pinned = false
	mr.Del(keys{p: "fs:"}.sum("t1", e.ID))
	if err := s.MarkRunning(ctx, "t1", e); err != nil {
		t.Fatal(err)
	}
	ge, gd, err := s.RunInputs(ctx, "t1", e.ID, "fn")
	if err != nil || !reflect.DeepEqual(ge, e) || !reflect.DeepEqual(gd, d) {
		t.Errorf("RunInputs = %+v, %+v, %v", ge, gd, err)
	}
}

// Records as the previous release wrote them (its store.Deployment and store.Execution, marshalled
// as such), under the documented key layout.
const (
	previousDeployment = `{"id":"9f2c4e6a8b0d1e3f","name":"fn","version":2,"status":"failed","error":"the code defines no main","build_log":"no main\n","ready_version":1,"image":"faaspot/t1-fn:1","limits":{"memory_mb":256,"cpus":0.5,"timeout_s":30},"warm":{"max_idle":0,"prewarm":1,"max_runs":10,"idle_ttl_s":300},"context_keys":["api_key","region"],"created_at":"2025-03-01T12:00:00.123456789Z","updated_at":"2025-03-01T13:00:00.123456789Z"}`
	previousExecution  = `{"id":"0123456789abcdef0123456789abcdef","deployment":"fn","version":1,"status":"failed","args":{"x":1},"result":null,"error":{"type":"ValueError","message":"boom","traceback":"Traceback ...\n"},"stdout":"out\n","stderr":"err\n","stdout_truncated":true,"stderr_truncated":false,"created_at":"2025-03-01T12:00:00.123456789Z","started_at":"2025-03-01T12:00:00.373456789Z","finished_at":"2025-03-01T12:00:01.373456789Z","queue_ms":250,"acquire_ms":12.5,"duration_ms":1000,"cold_start":true,"exit_code":1,"oom_killed":false}`
	previousQueued     = `{"id":"fedcba98765432100123456789abcdef","deployment":"fn","version":1,"status":"queued","args":[],"result":null,"error":null,"stdout":"","stderr":"","stdout_truncated":false,"stderr_truncated":false,"created_at":"2025-03-01T12:00:00.123456789Z","started_at":null,"finished_at":null,"queue_ms":0,"acquire_ms":0,"duration_ms":0,"cold_start":false,"exit_code":null,"oom_killed":false}`
)

// TestRecordsOfThePreviousRelease: records written by the previous release still decode.
func TestRecordsOfThePreviousRelease(t *testing.T) {
	ctx := context.Background()
	s, mr := newTestStore(t)
	const tid = "a1b2c3d4e5f60718"
	for key, rec := range map[string]string{
		keys{p: "fs:"}.t(tid) + "dep:fn":                                previousDeployment,
		keys{p: "fs:"}.t(tid) + "exec:0123456789abcdef0123456789abcdef": previousExecution,
		keys{p: "fs:"}.t(tid) + "exec:fedcba98765432100123456789abcdef": previousQueued,
	} {
		if err := mr.Set(key, rec); err != nil {
			t.Fatal(err)
		}
	}

	none, prewarm := 0, 1
	wantDep := faaspot.Deployment{ID: "9f2c4e6a8b0d1e3f", Name: "fn", Version: 2, Status: faaspot.StatusFailed,
		Error: "the code defines no main", BuildLog: "no main\n", ReadyVersion: 1, Image: "faaspot/t1-fn:1",
		Limits:      faaspot.Limits{MemoryMB: 256, CPUs: 0.5, TimeoutS: 30},
		Warm:        &faaspot.WarmPolicy{MaxIdle: &none, Prewarm: &prewarm, MaxRuns: 10, IdleTTLS: 300},
		ContextKeys: []string{"api_key", "region"}, CreatedAt: recordTime, UpdatedAt: recordTime.Add(time.Hour)}
	if got, err := s.GetDeployment(ctx, tid, "fn"); err != nil || !reflect.DeepEqual(got, wantDep) {
		t.Errorf("GetDeployment = %+v, %v\nwant %+v", got, err, wantDep)
	}

	started, finished, code := recordTime.Add(250*time.Millisecond), recordTime.Add(1250*time.Millisecond), 1
	tests := []struct {
		name string
		want faaspot.Execution
	}{
		{name: "failed", want: faaspot.Execution{ID: "0123456789abcdef0123456789abcdef", Deployment: "fn", Version: 1,
			Status: faaspot.ExecFailed, Args: json.RawMessage(`{"x":1}`), Result: json.RawMessage(`null`),
			Error:  &faaspot.ExecError{Type: "ValueError", Message: "boom", Traceback: "Traceback ...\n"},
			Stdout: "out\n", Stderr: "err\n", StdoutTruncated: true, CreatedAt: recordTime,
			StartedAt: &started, FinishedAt: &finished, QueueMS: 250, AcquireMS: 12.5, DurationMS: 1000,
			ColdStart: true, ExitCode: &code}},
		{name: "queued", want: faaspot.Execution{ID: "fedcba98765432100123456789abcdef", Deployment: "fn", Version: 1,
			Status: faaspot.ExecQueued, Args: json.RawMessage(`[]`), Result: json.RawMessage(`null`), CreatedAt: recordTime}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := s.GetExecution(ctx, tid, tt.want.ID); err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("GetExecution = %+v, %v\nwant %+v", got, err, tt.want)
			}
		})
	}
}
