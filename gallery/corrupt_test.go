package gallery

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// fill creates a gallery with an exact and an HNSW partition, closes it
// (writing the HNSW snapshot) and returns its config.
func fill(t *testing.T, n int) Config {
	t.Helper()
	cfg := Config{Dir: t.TempDir(), NoSync: true, IndexSpecs: map[string]string{"h": "HNSW16,Flat"}}
	g := mustOpen(t, cfg)
	for i := 0; i < n; i++ {
		for _, p := range []string{"f", "h"} {
			if _, err := g.Enrol(p, fmt.Sprint("s", i), tmpl("m", unit(uint64(i), dim)), EnrolOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func wantCorrupt(t *testing.T, cfg Config, file string) {
	t.Helper()
	g, err := Open(cfg)
	if err == nil {
		g.Close()
		t.Fatalf("Open succeeded on a damaged store")
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), file) {
		t.Fatalf("want ErrCorrupt naming %s, got: %v", file, err)
	}
	t.Logf("error: %v", err)
}

func TestCorruptStore(t *testing.T) {
	t.Run("truncated", func(t *testing.T) {
		cfg := fill(t, 300)
		path := filepath.Join(cfg.Dir, storeFile)
		// Cut into the pages in use (the file is preallocated beyond them).
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		var used int64
		db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
		db.Close()
		if err := os.Truncate(path, used*2/3); err != nil {
			t.Fatal(err)
		}
		wantCorrupt(t, cfg, path)
	})
	t.Run("truncated-to-one-page", func(t *testing.T) {
		cfg := fill(t, 10)
		path := filepath.Join(cfg.Dir, storeFile)
		os.Truncate(path, 1000)
		wantCorrupt(t, cfg, path)
	})
	t.Run("garbage", func(t *testing.T) {
		cfg := Config{Dir: t.TempDir()}
		path := filepath.Join(cfg.Dir, storeFile)
		os.WriteFile(path, []byte(strings.Repeat("not a database ", 5000)), 0o600)
		wantCorrupt(t, cfg, path)
	})
	t.Run("flipped-bytes-in-records", func(t *testing.T) {
		cfg := fill(t, 300)
		path := filepath.Join(cfg.Dir, storeFile)
		b, _ := os.ReadFile(path)
		// Flip bytes inside a stored vector: find one by its encoding.
		rec := encodeTmpl(&tmplRec{Model: "m", Vector: unit(150, dim)})
		i := strings.Index(string(b), string(rec[10:60]))
		if i < 0 {
			t.Fatal("record not found in file")
		}
		b[i+40] ^= 0x55
		b[i+41] ^= 0xff
		os.WriteFile(path, b, 0o600)
		wantCorrupt(t, cfg, path)
	})
	t.Run("flipped-bytes-in-meta", func(t *testing.T) {
		cfg := fill(t, 10)
		path := filepath.Join(cfg.Dir, storeFile)
		b, _ := os.ReadFile(path)
		for _, off := range []int{16 + 8, pageSize + 16 + 8} { // both meta pages
			b[off] ^= 0xff
		}
		os.WriteFile(path, b, 0o600)
		wantCorrupt(t, cfg, path)
	})
	t.Run("flipped-bytes-everywhere", func(t *testing.T) {
		// Random damage anywhere must never yield a silently different
		// gallery: either an error, or every template intact.
		cfg := fill(t, 200)
		path := filepath.Join(cfg.Dir, storeFile)
		orig, _ := os.ReadFile(path)
		for trial := 0; trial < 40; trial++ {
			b := append([]byte(nil), orig...)
			off := int(splitmix(uint64(trial)) % uint64(len(b)))
			for j := 0; j < 8 && off+j < len(b); j++ {
				b[off+j] ^= 0xA5
			}
			os.WriteFile(path, b, 0o600)
			os.RemoveAll(filepath.Join(cfg.Dir, snapDir))
			g, err := Open(cfg)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("trial %d (offset %d): error is not ErrCorrupt: %v", trial, off, err)
				}
				continue
			}
			st := g.Stats()
			ok := st.Templates == 400
			for i := 0; i < 200 && ok; i += 17 {
				res, err := g.Search("f", tmpl("m", unit(uint64(i), dim)), 1, 0.99)
				ok = err == nil && len(res) == 1 && res[0].Subject == fmt.Sprint("s", i)
			}
			if !ok {
				// Damage in free pages is harmless; damage that changes
				// the content must be reported.
				t.Errorf("trial %d (offset %d): opened a damaged store silently: %+v", trial, off, st)
			}
			g.Close()
		}
	})
}

func TestCorruptSnapshotFallsBack(t *testing.T) {
	for _, damage := range []string{"flip-faiss", "truncate-faiss", "flip-ids", "delete-ids"} {
		t.Run(damage, func(t *testing.T) {
			cfg := fill(t, 300)
			fp, ip := snapPaths(cfg.Dir, "h")
			switch damage {
			case "flip-faiss":
				b, _ := os.ReadFile(fp)
				b[len(b)/2] ^= 0xff
				os.WriteFile(fp, b, 0o600)
			case "truncate-faiss":
				st, _ := os.Stat(fp)
				os.Truncate(fp, st.Size()-100)
			case "flip-ids":
				b, _ := os.ReadFile(ip)
				b[len(b)-20] ^= 1
				os.WriteFile(ip, b, 0o600)
			case "delete-ids":
				os.Remove(ip)
			}
			g := mustOpen(t, cfg)
			defer g.Close()
			st := g.Stats()
			if len(st.Notes) != 1 || !strings.Contains(st.Notes[0], "snapshot unusable") {
				t.Fatalf("notes: %v", st.Notes)
			}
			t.Log(st.Notes[0])
			res, err := g.Search("h", tmpl("m", unit(42, dim)), 1, 0.99)
			if err != nil || len(res) != 1 || res[0].Subject != "s42" {
				t.Fatalf("%+v %v", res, err)
			}
			if err := g.checkConsistency(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
