package server

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"vizor/server/config"
)

// Auth checks x-api-key values. Each key is scoped to partitions and
// operations; with no keys configured everything is allowed (and the server
// binds to loopback unless allow_public is set).
type Auth struct {
	keys map[[32]byte]*key
}

type key struct {
	id         string // first 8 hex digits of the key's sha256, for logs
	partitions map[string]bool
	ops        map[string]bool
}

// Errors of Allow.
var (
	ErrUnauthorized = errors.New("missing or unknown API key")
	ErrForbidden    = errors.New("API key not allowed for this operation or partition")
)

// NewAuth builds the checker.
func NewAuth(keys []config.APIKey) *Auth {
	a := &Auth{keys: map[[32]byte]*key{}}
	for _, k := range keys {
		a.keys[sha256.Sum256([]byte(k.Key))] = &key{id: KeyID(k.Key), partitions: set(k.Partitions), ops: set(k.Operations)}
	}
	return a
}

// KeyID names an API key in logs without revealing it: the first 8 hex
// digits of its sha256. Every listener logs keys (and redacts them from
// paths and messages) this way.
func KeyID(k string) string {
	h := sha256.Sum256([]byte(k))
	return hex.EncodeToString(h[:4])
}

func set(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		if x == "*" {
			return nil // all
		}
		m[x] = true
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// Enabled reports whether any key is configured.
func (a *Auth) Enabled() bool { return a != nil && len(a.keys) > 0 }

// lookup finds a key by its value. Keys are compared by their sha256, so the
// lookup time does not depend on how much of a secret matched.
func (a *Auth) lookup(v string) *key {
	if v == "" {
		return nil
	}
	return a.keys[sha256.Sum256([]byte(v))]
}

func (k *key) allowsOp(op string) bool {
	return k == nil || k.ops == nil || k.ops[op]
}

// allowsAllPartitions is true without keys (k nil) and for a key whose
// partitions are "*" or empty.
func (k *key) allowsAllPartitions() bool { return k == nil || k.partitions == nil }

func (k *key) allowsPartition(p string) bool {
	return k == nil || k.partitions == nil || k.partitions[p]
}
