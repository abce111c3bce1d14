package daemon

import (
	"context"
	"strings"
	"testing"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/store"
)

// The workers' tests run on fake images named "img/<deployment id>:<tag>" (see fakeBuilder and
// withRun): in this package's tests the image-ownership check names repositories that way.
// TestOwnImageWithTheBuildersNaming checks it with the builder's own naming.
func init() { repositoryOf = func(_, deploymentID string) string { return "img/" + deploymentID } }

// TestRunRefusesAnImageNotItsOwn (issue 9, item 8): a deployment record rewritten in the store to
// name another deployment's image (another tenant's, say), a digest, or an untagged repository
// fails the run with ImageMismatch, logged as a security event, and never reaches the sandbox.
func TestRunRefusesAnImageNotItsOwn(t *testing.T) {
	for _, image := range []string{"img/d9:v1", "img/d1x:v1", "faaspot/t-t2/d-d1:v1", "img/d1@sha256:0123", "img/d1", "img/d1:", "img/d1:v1/x", ""} {
		t.Run(image, func(t *testing.T) {
			tw := newTestWorkers(t)
			withRun(tw)
			d := tw.store.deps["fn"]
			d.Image = image
			tw.store.deps["fn"] = d
			if err := tw.run(t.Context(), runJob("e1")); err != nil {
				t.Fatalf("run = %v", err)
			}
			e := onlyRecord(t, tw)
			if e.Status != faaspot.ExecFailed || e.Error == nil || e.Error.Type != errTypeImageMismatch || e.Error.Message != msgImageMismatch {
				t.Fatalf("record = %+v, error %+v; want failed ImageMismatch", e, e.Error)
			}
			if image != "" && strings.Contains(e.Error.Message, image) {
				t.Error("the error names the foreign image")
			}
			if n := tw.calls.count("sandbox.Run") + tw.calls.count("store.LoadContext"); n != 0 {
				t.Errorf("%d sandbox runs or context loads, want none (calls: %s)", n, tw.calls)
			}
			if len(tw.logs.lines("level=ERROR", "event=image_mismatch", `job="run t1/e1"`)) != 1 {
				t.Errorf("no security event logged:\n%s", tw.logs)
			}
		})
	}
}

// TestRunRefusesAForeignRebuiltImage: the image rebuilt on this node for a run is checked too.
func TestRunRefusesAForeignRebuiltImage(t *testing.T) {
	tw := newTestWorkers(t)
	withRun(tw)
	tw.builder.build = func(context.Context, imagebuilder.Spec) (string, string, error) { return "img/d9:rebuilt", "", nil }
	tw.runner.results = append(tw.runner.results, fails(errImageMissing))
	if err := tw.run(t.Context(), runJob("e1")); err != nil {
		t.Fatalf("run = %v", err)
	}
	if e := onlyRecord(t, tw); e.Error == nil || e.Error.Type != errTypeImageMismatch {
		t.Errorf("record = %+v; want ImageMismatch", e.Error)
	}
	if runs, _, _ := tw.runner.snapshot(); len(runs) != 1 {
		t.Errorf("ran %d times, want once (the image that was missing)", len(runs))
	}
}

// TestBuildDoesNotTouchForeignImages: a build never pre-warms an image that is not the
// deployment's own, nor removes, as its "previous image", one the record names.
func TestBuildDoesNotTouchForeignImages(t *testing.T) {
	tw := newTestWorkers(t)
	withBuild(tw)
	d := tw.store.deps["fn"]
	d.Image = "img/victim:v1"
	tw.store.deps["fn"] = d
	tw.builder.build = func(context.Context, imagebuilder.Spec) (string, string, error) { return "img/other:v2", "", nil }
	if err := tw.build(t.Context(), buildJob(2)); err != nil {
		t.Fatalf("build = %v", err)
	}
	_, prewarms, _ := tw.runner.snapshot()
	if len(prewarms) != 0 || len(tw.builder.removed) != 0 {
		t.Errorf("pre-warmed %d, removed %q; want neither", len(prewarms), tw.builder.removed)
	}
	if n := len(tw.logs.lines("level=ERROR", "event=image_mismatch")); n != 2 {
		t.Errorf("%d security events logged, want 2:\n%s", n, tw.logs)
	}
}

// TestOwnImageWithTheBuildersNaming: with imagebuilder's naming, an image belongs to a run only
// when it is a tag of exactly the repository of the run's tenant and deployment.
func TestOwnImageWithTheBuildersNaming(t *testing.T) {
	saved := repositoryOf
	repositoryOf = imagebuilder.Repository
	t.Cleanup(func() { repositoryOf = saved })
	own := imagebuilder.Repository("t1", "d1")
	tests := []struct {
		image string
		ok    bool
	}{
		{own + ":0123456789abcdef0123", true},
		{own + ":deps-0123456789abcdef0123", true},
		{imagebuilder.Repository("t2", "d1") + ":0123456789abcdef0123", false}, // another tenant's
		{imagebuilder.Repository("t1", "d2") + ":0123456789abcdef0123", false}, // another deployment's
		{"registry.example/" + own + ":x", false},
		{own + "@sha256:0123", false},
		{own, false},
		{own + ":", false},
		{own + "x:y", false},
	}
	tw := newTestWorkers(t)
	job := store.Job{Queue: store.Runs, Tenant: "t1", ID: "e1"}
	for _, tt := range tests {
		if got := tw.ownImage(job, "d1", tt.image); got != tt.ok {
			t.Errorf("ownImage(%q) = %v, want %v", tt.image, got, tt.ok)
		}
	}
}
