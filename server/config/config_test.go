package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, _, err := Load(nil, env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.ModelsDir != "./models" || c.MatchThreshold != 0.45 || c.MaxBodyBytes != 16<<20 || c.BatchMax != 8 {
		t.Fatalf("%+v", c)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	kv := filepath.Join(dir, "vizor.conf")
	os.WriteFile(kv, []byte("# comment\naddr = 127.0.0.1:9000\nmatch_threshold=0.5\nrequest_timeout=\"5s\"\nmax_body_bytes=2MiB\n"), 0o644)
	c, _, err := Load([]string{"-config", kv}, env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.MatchThreshold != 0.5 || c.RequestTimeout != 5*time.Second || c.MaxBodyBytes != 2<<20 {
		t.Fatalf("file: %+v", c)
	}
	c, _, err = Load([]string{"-config", kv}, env(map[string]string{"VIZOR_MATCH_THRESHOLD": "0.6", "VIZOR_ADDR": "127.0.0.1:9001"}), nil)
	if err != nil || c.MatchThreshold != 0.6 || c.Addr != "127.0.0.1:9001" {
		t.Fatalf("env over file: %v %+v", err, c)
	}
	c, _, err = Load([]string{"-config", kv, "-match-threshold", "0.7"}, env(map[string]string{"VIZOR_MATCH_THRESHOLD": "0.6"}), nil)
	if err != nil || c.MatchThreshold != 0.7 {
		t.Fatalf("flag over env: %v %+v", err, c)
	}
	js := filepath.Join(dir, "vizor.json")
	os.WriteFile(js, []byte(`{"addr":"127.0.0.1:9002","pad_threshold":0.2,"keep_images":true,"api_keys":[{"key":"k1","partitions":["a"],"operations":["search"]}]}`), 0o644)
	c, _, err = Load(nil, env(map[string]string{"VIZOR_CONFIG": js}), nil)
	if err != nil || c.Addr != "127.0.0.1:9002" || c.PADThreshold != 0.2 || !c.KeepImages || len(c.APIKeys) != 1 || c.APIKeys[0].Partitions[0] != "a" {
		t.Fatalf("json: %v %+v", err, c)
	}
}

func TestInvalid(t *testing.T) {
	for _, args := range [][]string{
		{"-match-threshold", "x"},
		{"-quality-threshold", "2"},
		{"-addr", "nope"},
		{"-api-keys", "k:p:fly"},
		{"-request-timeout", "5"},
	} {
		if _, _, err := Load(args, env(nil), nil); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte("colour=blue\n"), 0o644)
	if _, _, err := Load([]string{"-config", bad}, env(nil), nil); err == nil || !strings.Contains(err.Error(), "unknown setting") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestAPIKeysAndLoopback(t *testing.T) {
	ks, err := ParseAPIKeys("a; b:p1,p2 ; c:*:search,verify")
	if err != nil || len(ks) != 3 || len(ks[1].Partitions) != 2 || ks[2].Operations[1] != "verify" {
		t.Fatalf("%v %+v", err, ks)
	}
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "localhost:1": true, "0.0.0.0:1": false, ":8080": false, "10.0.0.1:1": false} {
		if IsLoopback(addr) != want {
			t.Errorf("IsLoopback(%q) != %v", addr, want)
		}
	}
	if !strings.Contains(Markdown(), "`VIZOR_ADDR`") {
		t.Fatal("markdown table")
	}
}
