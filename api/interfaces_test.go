package api_test

import (
	"github.com/faaspot/faaspot/api"
	"github.com/faaspot/faaspot/store"
)

// The store serves every resource interface of the api.
var (
	_ api.Authenticator   = (*store.Store)(nil)
	_ api.TenantStore     = (*store.Store)(nil)
	_ api.DeploymentStore = (*store.Store)(nil)
	_ api.ExecutionStore  = (*store.Store)(nil)
	_ api.Pinger          = (*store.Store)(nil)
	_ api.UsageStore      = (*store.Store)(nil)
)
