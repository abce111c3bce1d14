package store_test

import (
	"context"
	"errors"
	"fmt"
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
		// nothing is scheduled while the run has not ended
		t.Fatalf("a queued run's callback is due: %+v", jobs)
	}
	job := mustNextJob(t, s, store.Runs, "w")
	e.Status = faaspot.ExecCompleted
	if err := s.FinishRun(ctx, job, e); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.TakeCallbacks(ctx, time.Now(), time.Minute, 10)
	if err != nil || len(jobs) != 1 || jobs[0].Tenant != tn.ID || jobs[0].ID != e.ID {
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
	got, _ := s.TakeCallbacks(ctx, now.Add(6*time.Second), time.Minute, 10)
	if len(got) != 1 {
		t.Fatalf("the retry was not due at its time: %+v", got)
	}
	delivered := now.UTC()
	e.Callback.State, e.Callback.Attempts, e.Callback.LastStatus, e.Callback.DeliveredAt = faaspot.CallbackDelivered, 2, 200, &delivered
	if err := s.SettleCallback(ctx, jobs[0], e, time.Time{}); !errors.Is(err, store.ErrLost) {
		t.Fatalf("settling under a lease that passed = %v, want ErrLost", err)
	}
	if err := s.SettleCallback(ctx, got[0], e, time.Time{}); err != nil {
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
	if ttl := s.mr.TTL(s.TenantKey(tn.ID, "exec:") + e.ID); ttl <= 0 || ttl > time.Hour {
		t.Errorf("the record's TTL after the callback is %v, want the result TTL kept", ttl)
	}
}

// TestCallbackOfAGoneRecord: settling the callback of a record deleted meanwhile writes nothing
// and ends the callback; a dropped callback is not taken again.
func TestCallbackOfAGoneRecord(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	take := func() []store.CallbackJob {
		t.Helper()
		for i := range 2 {
			q := queued("fn", time.Now())
			q.Callback = &faaspot.Callback{URL: "https://example.test/", State: faaspot.CallbackPending}
			e := mustEnqueue(t, s, tn.ID, q)
			e.Status = faaspot.ExecFailed
			if err := s.FinishRun(ctx, mustNextJob(t, s, store.Runs, fmt.Sprint("w", i)), e); err != nil {
				t.Fatal(err)
			}
		}
		jobs, err := s.TakeCallbacks(ctx, time.Now(), time.Minute, 10)
		if err != nil || len(jobs) != 2 {
			t.Fatalf("TakeCallbacks = %+v, %v", jobs, err)
		}
		return jobs
	}
	jobs := take()
	s.mr.Del(s.TenantKey(tn.ID, "exec:") + jobs[0].ID)
	e := faaspot.Execution{ID: jobs[0].ID, Status: faaspot.ExecFailed,
		Callback: &faaspot.Callback{URL: "https://example.test/", State: faaspot.CallbackFailed}}
	if err := s.SettleCallback(ctx, jobs[0], e, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetExecution(ctx, tn.ID, jobs[0].ID); err == nil {
		t.Fatal("settling a callback wrote a record that was gone")
	}
	if err := s.DropCallback(ctx, jobs[1]); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.TakeCallbacks(ctx, time.Now().Add(time.Hour), time.Minute, 10); len(again) != 0 {
		t.Fatalf("settled or dropped callbacks are taken again: %+v", again)
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
	if both, err := s.SigningSecrets(ctx, a.ID); err != nil || len(both) != 2 || both[0] != rotated || both[1] != first {
		t.Fatalf("signing secrets after rotation = %q, %v; want the new one, then the old", both, err)
	}
	s.mr.FastForward(store.WebhookGrace + time.Second)
	if one, _ := s.SigningSecrets(ctx, a.ID); len(one) != 1 || one[0] != rotated {
		t.Fatalf("signing secrets after the grace = %q, want the new one only", one)
	}
	if _, err := s.DeleteTenant(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	for _, k := range s.mr.Keys() {
		if strings.Contains(k, "whsecret") && strings.Contains(k, a.ID) {
			t.Fatalf("the deleted tenant's secret is left: %s", k)
		}
	}
	if _, err := s.SigningSecrets(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the secret of a deleted tenant = %v, want ErrNotFound and none made", err)
	}
	for _, k := range s.mr.Keys() {
		if strings.Contains(k, "whsecret") && strings.Contains(k, a.ID) {
			t.Fatalf("a secret was made for a deleted tenant: %s", k)
		}
	}
}
