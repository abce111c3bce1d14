package faaspot

import "time"

// Tenant is an isolated customer of the platform.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Quotas    Quotas    `json:"quotas"`
}

// Quotas are a tenant's limits; zero fields take the operator's defaults (see WithDefaults).
type Quotas struct {
	MaxConcurrentRuns int     `json:"max_concurrent_runs"`
	MaxQueuedRuns     int     `json:"max_queued_runs"`
	MaxDeployments    int     `json:"max_deployments"`
	RequestsPerSecond float64 `json:"requests_per_second"`
}

// WithDefaults returns q with its zero (or negative) fields taken from def.
func (q Quotas) WithDefaults(def Quotas) Quotas {
	if q.MaxConcurrentRuns <= 0 {
		q.MaxConcurrentRuns = def.MaxConcurrentRuns
	}
	if q.MaxQueuedRuns <= 0 {
		q.MaxQueuedRuns = def.MaxQueuedRuns
	}
	if q.MaxDeployments <= 0 {
		q.MaxDeployments = def.MaxDeployments
	}
	if q.RequestsPerSecond <= 0 {
		q.RequestsPerSecond = def.RequestsPerSecond
	}
	return q
}

// Token describes an issued token; the token itself is shown only when issued.
type Token struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateTenantRequest is the body of POST /v1/tenants.
type CreateTenantRequest struct {
	Name string `json:"name"`
}

// TenantCreated answers POST /v1/tenants: the tenant's first token, shown only here.
type TenantCreated struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Token string `json:"token"`
}

// TokenIssued answers POST /v1/tenants/{tenant}/tokens: the token, shown only here.
type TokenIssued struct {
	ID    string `json:"id"`
	Token string `json:"token"`
}

// QuotasSet answers PUT /v1/tenants/{tenant}/quotas: the tenant's own quotas and those in effect.
type QuotasSet struct {
	Name      string `json:"name"`
	Quotas    Quotas `json:"quotas"`
	Effective Quotas `json:"effective"`
}
