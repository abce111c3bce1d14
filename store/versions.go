package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// versionRecord is the stored form of one version's record: what was deployed and how its build
// went. It never holds the context's values nor the image.
type versionRecord struct {
	Version     int          `json:"version"`
	Status      string       `json:"status"`
	Error       string       `json:"error,omitempty"`
	Hash        string       `json:"hash"`
	Limits      limitsRecord `json:"limits"`
	Warm        *warmRecord  `json:"warm,omitempty"`
	Retry       *retryRecord `json:"retry,omitempty"`
	CallbackURL string       `json:"callback_url,omitempty"`
	ContextKeys []string     `json:"context_keys"`
	CreatedAt   time.Time    `json:"created_at"`
	FinishedAt  *time.Time   `json:"finished_at,omitempty"`
	// Image is the engine's tag of the version's image, once built (records of earlier releases
	// have none).
	Image string `json:"image,omitempty"`
}

func (r versionRecord) domain(ready int) faaspot.VersionInfo {
	v := faaspot.VersionInfo{Version: r.Version, Status: faaspot.DeploymentStatus(r.Status), Error: r.Error,
		Ready: r.Version == ready, Hash: r.Hash, ContextKeys: r.ContextKeys, CreatedAt: r.CreatedAt,
		FinishedAt: r.FinishedAt, Image: r.Image,
		Limits: faaspot.Limits{MemoryMB: r.Limits.MemoryMB, CPUs: r.Limits.CPUs, TimeoutS: r.Limits.TimeoutS}}
	v.Warm = r.Warm.domain()
	v.Retry, v.CallbackURL = r.Retry.domain(), r.CallbackURL
	if v.ContextKeys == nil {
		v.ContextKeys = []string{}
	}
	return v
}

// versionRecordOf is the record of the version d has just been given, made from spec (hash).
func versionRecordOf(d faaspot.Deployment, hash string) versionRecord {
	dr := deploymentRecordOf(d)
	return versionRecord{Version: d.Version, Status: string(faaspot.StatusBuilding), Hash: hash,
		Limits: dr.Limits, Warm: dr.Warm, Retry: dr.Retry, CallbackURL: d.CallbackURL, ContextKeys: d.ContextKeys, CreatedAt: d.UpdatedAt}
}

func encodeVersion(r versionRecord) []byte {
	r.Error = headOf(r.Error, maxDeploymentErrorBytes)
	b, _ := json.Marshal(r) // plain fields: cannot fail
	return b
}

// contentHash is the keyed hash (HMAC-SHA256) of what a version deploys: code, requirements,
// limits, warm and retry policies, the callback URL and the context (ctxJSON, its canonical JSON), bound to the tenant and the
// deployment. Its key is derived from the secret key, so the hash stored with every version tells
// nothing of a context with little entropy to whoever reads Redis without the key.
func (s *Store) contentHash(tid string, spec faaspot.DeploymentSpec, ctxJSON []byte) string {
	derive := hmac.New(sha256.New, s.opts.SecretKey)
	derive.Write([]byte("faaspot-version-hash"))
	mac := hmac.New(sha256.New, derive.Sum(nil))
	limits, _ := json.Marshal(spec.Limits) // plain fields: cannot fail
	warm, _ := json.Marshal(spec.Warm)
	parts := []string{tid, spec.Name, spec.Source.Code, spec.Source.Requirements, string(limits), string(warm), string(ctxJSON)}
	if spec.Retry != nil { // only then: the hashes of versions made before retry policies stay as they were
		retry, _ := json.Marshal(spec.Retry)
		parts = append(parts, string(retry))
	}
	if spec.CallbackURL != "" { // the same for callback URLs
		parts = append(parts, "callback_url="+spec.CallbackURL)
	}
	for _, part := range parts {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		mac.Write(n[:])
		mac.Write([]byte(part))
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// sameAsNewest reports whether the newest version of d (read under tx's watch) deployed content
// of this hash and has not failed: redeploying it changes nothing. A version that failed to build
// is built again as a new version, so that a retry after a passing failure works.
func (s *Store) sameAsNewest(ctx context.Context, tx *redis.Tx, tid string, d faaspot.Deployment, hash string) (bool, error) {
	r, found, err := s.loadVersion(ctx, tx, tid, d.Name, d.Version)
	if err != nil || !found { // none: a version of an earlier release, or unreadable: deploy anew
		return false, err
	}
	return r.Hash == hash && r.Status != string(faaspot.StatusFailed), nil
}

// loadVersion reads version v's record through c; found is false when none is kept (or it does
// not decode). The error is the store's failure.
func (s *Store) loadVersion(ctx context.Context, c redis.Cmdable, tid, name string, v int) (versionRecord, bool, error) {
	r, err := s.versionOf(ctx, c, tid, name, v)
	if errors.Is(err, faaspot.ErrVersionNotFound) {
		return r, false, nil
	}
	return r, err == nil, err
}

// versionsToDrop returns the versions whose records (with their sources and contexts) to remove
// so that at most kept are left, oldest first, of the versions have once newest is added; never
// ready's nor newest's (so with kept 1 two may be left), nor one still building (its build may
// make it the ready version: it goes once settled, if it is then past the kept ones).
func (s *Store) versionsToDrop(ctx context.Context, tx *redis.Tx, tid, name string, newest, ready int) ([]int, error) {
	all, err := tx.HGetAll(ctx, s.k.vers(tid, name)).Result()
	if err != nil {
		return nil, unavailable("list versions", err)
	}
	have := []int{newest}
	var building []int // kept whatever their age: their build may yet make them the ready one
	for f, b := range all {
		v, err := strconv.Atoi(f)
		if err != nil || v == newest {
			continue
		}
		var r versionRecord
		if json.Unmarshal([]byte(b), &r) == nil && r.Status == string(faaspot.StatusBuilding) {
			building = append(building, v)
			continue
		}
		have = append(have, v)
	}
	return dropOldest(have, newest, ready, s.opts.VersionsKept-len(building)), nil
}

// dropArgs are the arguments of putVersionScript that drop versions: for each, its record's
// field, its source's key and its context's key.
func (s *Store) dropArgs(tid, name string, drop []int) []any {
	args := make([]any, 0, 3*len(drop))
	for _, v := range drop {
		args = append(args, itoa(v), s.k.src(tid, name, v), s.k.ctx(tid, name, v))
	}
	return args
}

// dropOldest returns the versions of have to remove, oldest first, so that at most kept remain,
// never newest nor ready.
func dropOldest(have []int, newest, ready, kept int) []int {
	sort.Ints(have)
	excess := len(have) - kept
	var drop []int
	for _, v := range have {
		if excess <= 0 {
			break
		}
		if v == newest || v == ready {
			continue
		}
		drop = append(drop, v)
		excess--
	}
	return drop
}

// putVersionScript writes a version's record and drops the oldest ones with their sources and
// contexts, only when the deployment record is the one PutDeployment's put script was to write
// (it wrote nothing when it refused). KEYS: deployment record, version records. ARGV: deployment
// record, version, version record, then dropArgs.
var putVersionScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
for i = 4, #ARGV, 3 do
  redis.call('HDEL', KEYS[2], ARGV[i])
  redis.call('DEL', ARGV[i + 1], ARGV[i + 2])
end
return 1`)

// settleVersion returns the writes that record the end of version v's build in its record r
// (when found: its image on success, its error on failure) and drop the records past the kept
// ones with their sources and contexts, given the deployment's ready version after the build. It
// reads under tx's watch.
func (s *Store) settleVersion(ctx context.Context, tx *redis.Tx, tid string, d faaspot.Deployment, v int, r versionRecord, found bool, out BuildOutcome) (func(redis.Pipeliner), error) {
	key := s.k.vers(tid, d.Name)
	drop, err := s.versionsToDrop(ctx, tx, tid, d.Name, d.Version, d.ReadyVersion)
	if err != nil {
		return nil, err
	}
	var rec []byte
	if found {
		now := s.now().UTC()
		r.Status, r.Error, r.FinishedAt, r.Image = string(faaspot.StatusReady), "", &now, out.Image
		if out.Error != "" {
			r.Status, r.Error, r.Image = string(faaspot.StatusFailed), out.Error, ""
		}
		rec = encodeVersion(r)
	}
	return func(p redis.Pipeliner) {
		if rec != nil {
			p.HSet(ctx, key, itoa(v), rec)
		}
		for _, dv := range drop {
			p.HDel(ctx, key, itoa(dv))
			p.Del(ctx, s.k.src(tid, d.Name, dv), s.k.ctx(tid, d.Name, dv))
		}
	}, nil
}

// ListVersions returns the records of the deployment's kept versions, newest first, its ready
// version marked. ErrNotFound when the tenant has no deployment of that name.
func (s *Store) ListVersions(ctx context.Context, tid, name string) ([]faaspot.VersionInfo, error) {
	var dep *redis.StringCmd
	var all *redis.MapStringStringCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		dep = p.Get(ctx, s.k.dep(tid, name))
		all = p.HGetAll(ctx, s.k.vers(tid, name))
		return nil
	})
	if errors.Is(dep.Err(), redis.Nil) {
		return nil, fmt.Errorf("deployment %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, unavailable("list versions", err)
	}
	d, err := decodeDeployment([]byte(dep.Val()))
	if err != nil {
		return nil, fmt.Errorf("decode deployment %s: %w", name, err)
	}
	out := make([]faaspot.VersionInfo, 0, len(all.Val()))
	for _, b := range all.Val() {
		var r versionRecord
		if json.Unmarshal([]byte(b), &r) == nil && r.Version <= d.Version {
			out = append(out, r.domain(d.ReadyVersion))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version > out[j].Version })
	return out, nil
}
