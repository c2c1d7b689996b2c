package compreface

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
)

// SharedStore is a gallery backend that also keeps small named values for
// every Vizor node (the Weaviate backend's State/SetState): with it, the
// flavour's state lives in the cluster instead of data_dir, so every node
// makes and accepts the same image ids and sees the same declared subjects.
type SharedStore interface {
	State(scope, key string) (string, error)
	SetState(scope, key, value string) error
}

const sharedScope = "compreface"

// openSharedState reads (or creates) the shared secret. Two nodes starting
// at the same instant on an empty cluster could each write one: each
// re-reads after writing and adopts what the cluster holds.
func openSharedState(r SharedStore) (*state, error) {
	s := &state{remote: r, data: stateData{Subjects: map[string][]string{}}}
	secret, err := r.State(sharedScope, "secret")
	if err != nil {
		return nil, err
	}
	if len(secret) != 64 {
		var k [32]byte
		_, _ = rand.Read(k[:])
		if err := r.SetState(sharedScope, "secret", hex.EncodeToString(k[:])); err != nil {
			return nil, err
		}
		if secret, err = r.State(sharedScope, "secret"); err != nil {
			return nil, err
		}
		if len(secret) != 64 {
			return nil, fmt.Errorf("shared secret not readable after writing it")
		}
	}
	s.data.Secret = secret
	return s, nil
}

// remoteDeclared reads a partition's declared subjects from the cluster;
// on a read failure it answers with the last list it read (logged by the
// caller's next write, which fails the same way).
func (s *state) remoteDeclared(part string) []string {
	v, err := s.remote.State(sharedScope, "declared/"+part)
	if err != nil {
		return slices.Clone(s.data.Subjects[part])
	}
	var list []string
	if v != "" {
		_ = json.Unmarshal([]byte(v), &list)
	}
	s.data.Subjects[part] = list
	return slices.Clone(list)
}

// remoteSave writes a partition's declared subjects (read-modify-write
// under this node's lock: two nodes declaring into one partition at the
// same instant can lose one declaration).
func (s *state) remoteSave(part string, list []string) error {
	v := ""
	if len(list) > 0 {
		b, _ := json.Marshal(list)
		v = string(b)
	}
	if err := s.remote.SetState(sharedScope, "declared/"+part, v); err != nil {
		return err
	}
	s.data.Subjects[part] = list
	return nil
}
