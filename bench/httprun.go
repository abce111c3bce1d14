package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// httpClient is the one keep-alive client every measured request goes through, with enough idle
// connections for the most concurrent phase.
var httpClient = &http.Client{
	Timeout: 90 * time.Second,
	Transport: &http.Transport{
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	},
}

// reply is one answer of the API.
type reply struct {
	status int
	body   string
	execID string
	took   time.Duration
}

// call makes one request and reads the whole answer; took runs from sending to the last byte.
func (n *node) call(ctx context.Context, method, path string) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, method, n.url+path, nil)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Authorization", "Token "+n.token)
	start := time.Now()
	resp, err := httpClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := reply{status: resp.StatusCode, body: string(body), execID: resp.Header.Get("X-Faaspot-Execution-Id"), took: time.Since(start)}
	return r, err
}

// syncRun is one synchronous run of the hello function; anything but its greeting is an error.
func (n *node) syncRun(ctx context.Context, deployment string) (reply, error) {
	r, err := n.call(ctx, http.MethodPut, "/v1/sync/deployments/"+deployment+"/rpc/?name=bench")
	if err != nil {
		return r, err
	}
	if r.status != http.StatusOK || !strings.Contains(r.body, "hello") {
		return r, fmt.Errorf("sync run of %s on %s: %d %s", deployment, n.name, r.status, strings.TrimSpace(r.body))
	}
	return r, nil
}

// asyncRun queues one run; the API answers 202 with the execution id.
func (n *node) asyncRun(ctx context.Context, deployment string) (reply, error) {
	r, err := n.call(ctx, http.MethodPost, "/v1/deployments/"+deployment+"/rpc/?name=bench")
	if err != nil {
		return r, err
	}
	if r.status != http.StatusAccepted {
		return r, fmt.Errorf("async run of %s on %s: %d %s", deployment, n.name, r.status, strings.TrimSpace(r.body))
	}
	return r, nil
}
