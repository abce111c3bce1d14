package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/faaspot/faaspot/store"
)

// TestSplitDeleteTenantInterrupted: a tenant deletion interrupted before any of its steps (a
// node dying) leaves a tenant that the admin API still finds by name until its data is gone, and
// that deleting it again removes; at worst, interrupted before its last step, a bare record that
// nothing names, with none of its data.
func TestSplitDeleteTenantInterrupted(t *testing.T) {
	steps := []string{"delete tenant: queues", "delete tenant: data", "delete tenant: name", "delete tenant: record"}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			ctx := context.Background()
			s := mustOpenStore(t, store.Options{})
			s.SplitSteps()
			tn, _ := mustCreateTenant(t, s, "acme")
			mustPut(t, s, tn.ID, spec("fn", "v1", nil))
			mustEnqueue(t, s, tn.ID, queued("fn", t0))
			boom := errors.New("node died")
			s.FailStep(step, boom)
			if _, err := s.DeleteTenant(ctx, tn.ID); !errors.Is(err, boom) {
				t.Fatalf("DeleteTenant = %v, want the step's failure", err)
			}
			s.FailStep("", nil)
			if step == "delete tenant: record" {
				if _, err := s.TenantByName(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("TenantByName after the name's step = %v, want ErrNotFound", err)
				}
				if left := tenantKeys(s, tn.ID); len(left) != 1 || left[0] != s.prefix+"tenant:{"+tn.ID+"}" {
					t.Errorf("keys left: %v, want the bare record", left)
				}
				return
			}
			found, err := s.TenantByName(ctx, "acme")
			if err != nil || found.ID != tn.ID {
				t.Fatalf("TenantByName of a half-deleted tenant = %+v, %v; want it", found, err)
			}
			if _, err := s.DeleteTenant(ctx, found.ID); err != nil {
				t.Fatalf("DeleteTenant again = %v", err)
			}
			if left := tenantKeys(s, tn.ID); len(left) != 0 {
				t.Errorf("keys left: %v, want none", left)
			}
			if _, _, err := s.CreateTenant(ctx, "acme"); err != nil {
				t.Errorf("CreateTenant of the freed name = %v", err)
			}
		})
	}
}

// tenantKeys are the store's keys naming the tenant tid.
func tenantKeys(s *testStore, tid string) []string {
	var out []string
	for _, k := range s.mr.Keys() {
		if strings.Contains(k, tid) {
			out = append(out, k)
		}
	}
	return out
}
