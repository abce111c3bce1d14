package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// TestCallbackDelivery: a terminal record with a pending callback is scheduled in the step that
// writes it; a taken callback is leased; settling it pending schedules it again, delivered takes
// it out, and the record shows the delivery with its TTL kept.
func TestCallbackDelivery(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{ResultTTL: time.Hour})
	tn, _ := mustCreateTenant(t, s, "acme")
	q := queued("fn", time.Now())
	q.Callback = &faaspot.Callback{URL: "https://example.test/hook", State: faaspot.CallbackPending}
	e := mustEnqueue(t, s, tn.ID, q)
	now := time.Now()
	if jobs, _ := s.TakeCallbacks(ctx, now.Add(time.Hour), time.Minute, 10); len(jobs) != 0 {
		t.Fatalf("a queued run's callback is due: %+v", jobs)
	}
	job := mustNextJob(t, s, store.Runs, "w")
	e.Status = faaspot.ExecCompleted
	if err := s.FinishRun(ctx, job, e); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.TakeCallbacks(ctx, time.Now(), time.Minute, 10)
	if err != nil || len(jobs) != 1 || jobs[0] != (store.CallbackJob{Tenant: tn.ID, ID: e.ID}) {
		t.Fatalf("TakeCallbacks = %+v, %v", jobs, err)
	}
	if again, _ := s.TakeCallbacks(ctx, time.Now().Add(30*time.Second), time.Minute, 10); len(again) != 0 {
		t.Fatalf("a leased callback was taken again: %+v", again)
	}
	e.Callback = &faaspot.Callback{URL: e.Callback.URL, State: faaspot.CallbackPending, Attempts: 1, LastStatus: 503}
	if err := s.SettleCallback(ctx, jobs[0], e, now.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.TakeCallbacks(ctx, now.Add(4*time.Second), time.Minute, 10); len(got) != 0 {
		t.Fatalf("a retry was due before its time: %+v", got)
	}
	if got, _ := s.TakeCallbacks(ctx, now.Add(6*time.Second), time.Minute, 10); len(got) != 1 {
		t.Fatalf("the retry was not due at its time: %+v", got)
	}
	delivered := now.UTC()
	e.Callback.State, e.Callback.Attempts, e.Callback.LastStatus, e.Callback.DeliveredAt = faaspot.CallbackDelivered, 2, 200, &delivered
	if err := s.SettleCallback(ctx, jobs[0], e, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.TakeCallbacks(ctx, now.Add(time.Hour), time.Minute, 10); len(got) != 0 {
		t.Fatalf("a delivered callback is due again: %+v", got)
	}
	rec, err := s.GetExecution(ctx, tn.ID, e.ID)
	if err != nil || rec.Callback == nil || rec.Callback.State != faaspot.CallbackDelivered || rec.Callback.Attempts != 2 ||
		rec.Callback.LastStatus != 200 || rec.Status != faaspot.ExecCompleted {
		t.Fatalf("record = %+v (callback %+v), %v", rec, rec.Callback, err)
	}
	if ttl := s.mr.TTL("fs:t:" + tn.ID + ":exec:" + e.ID); ttl <= 0 || ttl > time.Hour {
		t.Errorf("the record's TTL after the callback is %v, want the result TTL kept", ttl)
	}
}

// TestCallbackOfAGoneRecord: settling the callback of a record deleted meanwhile writes nothing.
func TestCallbackOfAGoneRecord(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	job := store.CallbackJob{Tenant: tn.ID, ID: "gone"}
	e := faaspot.Execution{ID: "gone", Status: faaspot.ExecFailed,
		Callback: &faaspot.Callback{URL: "https://example.test/", State: faaspot.CallbackFailed}}
	if err := s.SettleCallback(ctx, job, e, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetExecution(ctx, tn.ID, "gone"); err == nil {
		t.Fatal("settling a callback wrote a record that was gone")
	}
	if err := s.DropCallback(ctx, job); err != nil {
		t.Fatal(err)
	}
}

// TestWebhookSecret: made once and stable, sealed at rest, replaced by a rotation, per tenant.
func TestWebhookSecret(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	a, _ := mustCreateTenant(t, s, "a")
	b, _ := mustCreateTenant(t, s, "b")
	first, err := s.WebhookSecret(ctx, a.ID)
	if err != nil || !strings.HasPrefix(first, "whsec_") || len(first) != len("whsec_")+64 {
		t.Fatalf("WebhookSecret = %q, %v", first, err)
	}
	if again, _ := s.WebhookSecret(ctx, a.ID); again != first {
		t.Fatalf("the secret changed on its own: %q then %q", first, again)
	}
	other, _ := s.WebhookSecret(ctx, b.ID)
	if other == first {
		t.Fatal("two tenants share a secret")
	}
	for _, v := range allText(t, s.mr) {
		if strings.Contains(v, first[len("whsec_"):]) {
			t.Fatal("the secret is stored in clear")
		}
	}
	rotated, err := s.RotateWebhookSecret(ctx, a.ID)
	if err != nil || rotated == first {
		t.Fatalf("RotateWebhookSecret = %q, %v", rotated, err)
	}
	if now, _ := s.WebhookSecret(ctx, a.ID); now != rotated {
		t.Fatalf("after rotation the secret is %q, want %q", now, rotated)
	}
	if _, err := s.DeleteTenant(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	for _, k := range s.mr.Keys() {
		if strings.Contains(k, "whsecret") && strings.Contains(k, a.ID) {
			t.Fatalf("the deleted tenant's secret is left: %s", k)
		}
	}
}
