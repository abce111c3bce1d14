package daemon

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openStoreOnly opens d's store (nothing else: no Docker) and closes d when the test ends.
func openStoreOnly(t *testing.T, cfg Config) (*Daemon, error) {
	t.Helper()
	cfg.DataDir, cfg.SecretKeyFile = t.TempDir(), ""
	d := New(cfg, discardLog())
	t.Cleanup(func() { _ = d.Close() })
	return d, d.openStore(context.Background())
}

// TestEmbeddedStoreNeedsPassword: the embedded store listens on loopback, where any local
// process (a build step, a function on the host network) could reach it; only the daemon's
// clients, holding its random password, may talk to it.
func TestEmbeddedStoreNeedsPassword(t *testing.T) {
	d, err := openStoreOnly(t, DefaultConfig())
	if err != nil {
		t.Fatalf("open the embedded store: %v", err)
	}
	ctx := context.Background()
	if err := d.store.Ping(ctx); err != nil {
		t.Fatalf("the daemon's own client: %v", err)
	}
	if _, err := d.store.InstallationID(ctx); err != nil {
		t.Fatalf("the daemon's own client writes: %v", err)
	}
	for name, opts := range map[string]*redis.Options{
		"no password":    {Addr: d.mini.Addr()},
		"wrong password": {Addr: d.mini.Addr(), Password: "guess"},
	} {
		c := redis.NewClient(opts)
		err := c.Set(ctx, "fs:intruder", "1", 0).Err()
		if pingErr := c.Ping(ctx).Err(); err == nil || pingErr == nil {
			t.Errorf("%s: SET = %v, PING = %v; want both refused", name, err, pingErr)
		}
		_ = c.Close()
	}
	plain := redis.NewClient(&redis.Options{Addr: d.mini.Addr()})
	defer plain.Close()
	if err := plain.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("PING without a password = %v, want NOAUTH", err)
	}
	if d.mini.Exists("fs:intruder") {
		t.Error("an unauthenticated client wrote a record")
	}
	// A second daemon's embedded store has another password.
	d2, err := openStoreOnly(t, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	pw := func(d *Daemon) string { return d.rdb.(*redis.Client).Options().Password }
	if pw(d) == pw(d2) || pw(d) == "" {
		t.Error("embedded store passwords are not drawn per start")
	}
}

// TestExternalRedisURL: an external Redis's URL with credentials is used by every client of the
// daemon, and its errors never show the password.
func TestExternalRedisURL(t *testing.T) {
	mr := miniredis.RunT(t)
	mr.RequireUserAuth("faaspot", "s3cret-pw")
	cfg := DefaultConfig()
	cfg.RedisURL = "redis://faaspot:s3cret-pw@" + mr.Addr() + "/0"
	d, err := openStoreOnly(t, cfg)
	if err != nil {
		t.Fatalf("open with user and password: %v", err)
	}
	if err := d.waits.Ping(context.Background()).Err(); err != nil {
		t.Errorf("the waiters' client: %v", err)
	}

	cfg.RedisURL = "redis://faaspot:wrong-pw@" + mr.Addr() + "/0?max_retries=-1"
	_, err = openStoreOnly(t, cfg)
	if err == nil || strings.Contains(err.Error(), "wrong-pw") {
		t.Errorf("open with a wrong password = %v, want an error without the password", err)
	}
}

// TestRedisURLTLS: rediss:// turns TLS on, for the waiters' client too, verifying the server's
// name against the system's roots. (No TLS server is needed to see the clients' settings.)
func TestRedisURLTLS(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RedisURL = "rediss://faaspot:s3cret-pw@127.0.0.1:1/3?max_retries=-1&dial_timeout=1s"
	d, err := openStoreOnly(t, cfg)
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	for name, c := range map[string]redis.UniversalClient{"main": d.rdb, "waits": d.waits} {
		c := c.(*redis.Client)
		o := c.Options()
		if o.TLSConfig == nil || o.TLSConfig.InsecureSkipVerify || o.TLSConfig.ServerName != "127.0.0.1" {
			t.Errorf("%s client TLS = %+v, want verified TLS for 127.0.0.1", name, o.TLSConfig)
		}
		if o.Username != "faaspot" || o.Password != "s3cret-pw" || o.DB != 3 {
			t.Errorf("%s client: user %q, db %d; want the URL's", name, o.Username, o.DB)
		}
	}
}

func TestRedisOptions(t *testing.T) {
	tests := []struct {
		name, url string
		tls       bool
		user, pw  string
		db        int
		wantErr   string
	}{
		{name: "plain", url: "redis://10.0.0.5:6379/2", db: 2},
		{name: "password", url: "redis://:pw@10.0.0.5:6379/0", pw: "pw"},
		{name: "user and password", url: "redis://app:pw@10.0.0.5:6379/1", user: "app", pw: "pw", db: 1},
		{name: "TLS", url: "rediss://app:pw@redis.example:6380/0", tls: true, user: "app", pw: "pw"},
		{name: "escaped password", url: "redis://:p%40ss%2Fw@10.0.0.5/0", pw: "p@ss/w"},
		{name: "bad port", url: "redis://:topsecret@10.0.0.5:port/0", wantErr: "invalid port"},
		{name: "bad user info", url: "redis://:top secret%zz@10.0.0.5/0", wantErr: "userinfo"},
		{name: "other scheme", url: "http://:topsecret@10.0.0.5/0", wantErr: "scheme"},
		{name: "bad database", url: "redis://:topsecret@10.0.0.5/x", wantErr: "database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := redisOptions(tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "FAASPOT_REDIS_URL") {
					t.Fatalf("err = %v, want one naming FAASPOT_REDIS_URL and %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "topsecret") {
					t.Errorf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (o.TLSConfig != nil) != tt.tls || o.Username != tt.user || o.Password != tt.pw || o.DB != tt.db {
				t.Errorf("options: tls %v, user %q, password %q, db %d", o.TLSConfig != nil, o.Username, o.Password, o.DB)
			}
		})
	}
}

// TestRedisKinds: a master_name parameter selects Sentinel (the host and every addr are
// sentinels, the password parameter the master's), the +cluster schemes a Cluster (the host and
// every addr are nodes); their errors never show a password.
func TestRedisKinds(t *testing.T) {
	sentinel := "redis://sent:spw@127.0.0.1:26379/3?master_name=fsmaster&addr=127.0.0.1:26380&addr=127.0.0.1:26381&password=mpw"
	if k := kindOf(sentinel); k != redisSentinel {
		t.Fatalf("kindOf(sentinel URL) = %s", k)
	}
	fo, err := failoverOptions(sentinel)
	if err != nil {
		t.Fatal(err)
	}
	if fo.MasterName != "fsmaster" || len(fo.SentinelAddrs) != 3 || fo.DB != 3 || fo.Password != "mpw" ||
		fo.SentinelUsername != "sent" || fo.SentinelPassword != "spw" {
		t.Errorf("failover options: %+v", fo)
	}
	cluster := "redis+cluster://:cpw@127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002"
	if k := kindOf(cluster); k != redisCluster {
		t.Fatalf("kindOf(cluster URL) = %s", k)
	}
	co, err := clusterOptions(cluster)
	if err != nil {
		t.Fatal(err)
	}
	if len(co.Addrs) != 3 || co.Password != "cpw" || co.TLSConfig != nil {
		t.Errorf("cluster options: %+v", co)
	}
	if co, err := clusterOptions("rediss+cluster://10.0.0.1:7000"); err != nil || co.TLSConfig == nil {
		t.Errorf("rediss+cluster: TLS %v, %v", co != nil && co.TLSConfig != nil, err)
	}
	if k := kindOf("redis://127.0.0.1:6379/0"); k != redisSingle {
		t.Errorf("kindOf(plain URL) = %s", k)
	}
	for _, bad := range []string{
		"redis://:topsecret@127.0.0.1:26379/0?master_name=m&addr=nohostport",
		"redis+cluster://:topsecret@127.0.0.1:7000?bogus=1",
	} {
		err := checkRedisURL(bad)
		if err == nil || strings.Contains(err.Error(), "topsecret") || !strings.Contains(err.Error(), "FAASPOT_REDIS_URL") {
			t.Errorf("checkRedisURL(%s) = %v, want an error naming the setting and not the password", bad, err)
		}
	}
	cfg := DefaultConfig()
	cfg.RedisURL, cfg.RedisMinReplicas = cluster, 1
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "not supported on a Redis Cluster") {
		t.Errorf("min replicas on a Cluster: %v", err)
	}
}
