package daemon

import "sync"

// contextCacheSize bounds the decrypted contexts a worker node keeps in memory.
const contextCacheSize = 1024

// contextCache keeps decrypted contexts by deployment version (immutable once stored), saving a
// Redis round trip and a decryption per run. Contexts live in this process only, as they do in
// the warm containers that receive them.
type contextCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *contextCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

// put stores a context; when full, an arbitrary entry makes room (map order is random).
func (c *contextCache) put(key string, v []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	if len(c.m) >= contextCacheSize {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = v
}
