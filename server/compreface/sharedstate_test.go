package compreface

import (
	"sync"
	"testing"
)

// mapStore stands in for the cluster's key/value state (pure logic; the
// real one is tested in gallery/weaviate, TestSettingsAndState).
type mapStore struct {
	mu sync.Mutex
	m  map[string]string
}

func (m *mapStore) State(scope, key string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[scope+"/"+key], nil
}

func (m *mapStore) SetState(scope, key, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if value == "" {
		delete(m.m, scope+"/"+key)
	} else {
		m.m[scope+"/"+key] = value
	}
	return nil
}

// TestSharedStateTwoNodes: two nodes on one shared store make and accept
// the same image ids and see each other's declared subjects.
func TestSharedStateTwoNodes(t *testing.T) {
	r := &mapStore{m: map[string]string{}}
	a, err := openSharedState(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openSharedState(r)
	if err != nil {
		t.Fatal(err)
	}
	id := a.imageID("p", 42)
	if got, ok := b.templateID("p", id); !ok || got != 42 {
		t.Fatalf("node B does not accept node A's image id: %d %v", got, ok)
	}
	if added, err := a.declare("p", "ann"); !added || err != nil {
		t.Fatalf("declare: %v %v", added, err)
	}
	if !b.hasDeclared("p", "ann") || len(b.declared("p")) != 1 {
		t.Fatalf("node B does not see ann: %v", b.declared("p"))
	}
	if added, _ := b.declare("p", "ann"); added {
		t.Fatal("declared twice across nodes")
	}
	if n, err := b.undeclare("p", "ann"); n != 1 || err != nil {
		t.Fatalf("undeclare: %d %v", n, err)
	}
	if a.hasDeclared("p", "ann") {
		t.Fatal("node A still sees ann")
	}
}
