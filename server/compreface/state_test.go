package compreface

import (
	"path/filepath"
	"testing"
)

func TestImageIDs(t *testing.T) {
	dir := t.TempDir()
	s, err := openState(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{1, 42, 1 << 40} {
		u := s.imageID("cf-a", id)
		if !IsUUID(u) || u[14] != '4' {
			t.Fatalf("not a v4-shaped UUID: %s", u)
		}
		if got, ok := s.templateID("cf-a", u); !ok || got != id {
			t.Fatalf("round trip %d: %d %v", id, got, ok)
		}
		if _, ok := s.templateID("cf-b", u); ok {
			t.Fatalf("id of one collection resolves in another")
		}
	}
	if _, ok := s.templateID("cf-a", "6b135f5b-a365-4522-b1f1-4c9ac2dd0728"); ok {
		t.Fatal("foreign UUID resolved")
	}
	// The secret persists.
	s2, err := openState(dir)
	if err != nil || s2.imageID("cf-a", 7) != s.imageID("cf-a", 7) {
		t.Fatalf("secret not persisted: %v", err)
	}
	if _, err := s.declare("cf-a", "x"); err != nil {
		t.Fatal(err)
	}
	s3, _ := openState(dir)
	if !s3.hasDeclared("cf-a", "x") {
		t.Fatal("declared subject not persisted")
	}
}

func TestKeysFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k", "keys.json")
	k, err := CreateKey(p, "Detection", "n")
	if err != nil || k.Type != Detection || !IsUUID(k.Key) {
		t.Fatalf("%+v %v", k, err)
	}
	if _, err := CreateKey(p, "admin", ""); err == nil {
		t.Fatal("bad type accepted")
	}
	r, err := newKeyring(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := r.lookup(k.Key); !ok || got.Name != "n" {
		t.Fatal("lookup")
	}
	k2, _ := CreateKey(p, Recognition, "")
	if _, ok := r.lookup(k2.Key); !ok {
		t.Fatal("new key not seen without restart")
	}
	if err := DeleteKey(p, k.Key); err != nil {
		t.Fatal(err)
	}
	if Partition(k2.Key) == Partition(k.Key) || len(Partition(k2.Key)) != 35 {
		t.Fatal("partition names")
	}
}
