package metrics

import "sync"

// DefaultTenantLimit is how many tenants keep their own label value when Options.TenantLimit is 0.
const DefaultTenantLimit = 50

// TenantOther is the tenant label value of every tenant past the limit.
const TenantOther = "other"

// Options choose the optional labels. The zero Options add none: no tenant or deployment label.
type Options struct {
	// TenantLabel adds a tenant label (the tenant's id, never its name or a token) to
	// faaspot_executions_total. Cardinality: at most (TenantLimit + 1) × 3 series (completed, failed, timeout), the
	// first TenantLimit tenants seen by this process keeping their own value and every later
	// one counted as TenantOther. The set is per process: a restart may admit other tenants.
	TenantLabel bool
	// TenantLimit bounds the tenant values (0: DefaultTenantLimit).
	TenantLimit int
}

func (o Options) tenantLimit() int {
	if o.TenantLimit > 0 {
		return o.TenantLimit
	}
	return DefaultTenantLimit
}

// tenantLabels admits the first limit tenants it is asked about as label values.
type tenantLabels struct {
	mu    sync.Mutex
	limit int
	seen  map[string]bool
}

// label returns tenant when it is admitted (already, or now while there is room), TenantOther
// otherwise.
func (t *tenantLabels) label(tenant string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen[tenant] {
		return tenant
	}
	if len(t.seen) >= t.limit || tenant == "" || tenant == TenantOther {
		return TenantOther
	}
	t.seen[tenant] = true
	return tenant
}

// CountExecution counts one execution of tenant (its id) that reached status. The tenant is a
// label only with Options.TenantLabel, and then bounded (see Options).
func (m *Metrics) CountExecution(tenant, status string) {
	if m.tenants == nil {
		m.Executions.WithLabelValues(status).Inc()
		return
	}
	m.Executions.WithLabelValues(status, m.tenants.label(tenant)).Inc()
}

// The kinds of faaspot_quota_rejections_total: a tenant's request rate, a client address locked
// out of the operator routes after failed admin-token attempts, a tenant's queued runs, its queued builds, its deployments. A quota
// of a kind not listed is counted as QuotaOther. (Concurrent runs past a tenant's cap wait in
// its queue: they are not refused, so they are not counted here.)
const (
	QuotaRate         = "rate"
	QuotaAdminLockout = "admin_lockout"
	QuotaQueuedRuns   = "queued_runs"
	QuotaQueuedBuilds = "queued_builds"
	QuotaDeployments  = "deployments"
	QuotaOther        = "other"
)

var quotaKinds = []string{QuotaRate, QuotaAdminLockout, QuotaQueuedRuns, QuotaQueuedBuilds, QuotaDeployments, QuotaOther}

// quotaKindOf maps a faaspot.QuotaError's What to its kind.
var quotaKindOf = map[string]string{
	"requests per second": QuotaRate,
	"queued runs":         QuotaQueuedRuns,
	"queued builds":       QuotaQueuedBuilds,
	"deployments":         QuotaDeployments,
}

// QuotaRejected counts one request refused by the quota that faaspot.QuotaError.What names
// (kind QuotaOther when unknown), or by kind when what is one of the Quota* constants.
func (m *Metrics) QuotaRejected(what string) {
	kind, ok := quotaKindOf[what]
	if !ok {
		kind = QuotaOther
		for _, k := range quotaKinds {
			if k == what {
				kind = k
			}
		}
	}
	m.QuotaRejections.WithLabelValues(kind).Inc()
}
