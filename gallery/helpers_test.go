package gallery

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"vizor/internal/vec"
)

// unit returns a random unit vector drawn from seed (deterministic).
func unit(seed uint64, dim int) []float32 {
	return vec.RandomUnit(rand.New(rand.NewPCG(splitmix(seed), splitmix(seed+1))), dim)
}

// near returns a unit vector at roughly cosine cos from v.
func near(v []float32, seed uint64, cos float64) []float32 {
	noise := unit(seed+1<<40, len(v))
	a, b := float32(cos), float32(math.Sqrt(1-cos*cos))
	out := make([]float32, len(v))
	var n float64
	for i := range v {
		out[i] = a*v[i] + b*noise[i]
		n += float64(out[i]) * float64(out[i])
	}
	s := float32(1 / math.Sqrt(n))
	for i := range out {
		out[i] *= s
	}
	return out
}

func tmpl(model string, v []float32) Template { return Template{Model: model, Vector: v} }

func mustOpen(t testing.TB, cfg Config) *Gallery {
	t.Helper()
	g, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return g
}

// crash drops the gallery as a kill would: no snapshot, no sync (the store
// is already durable), just release the file lock so it can be reopened.
func (g *Gallery) crash() {
	g.life.Lock()
	g.closed = true
	g.life.Unlock()
	g.abort()
}

// checkConsistency verifies that, for every partition, the FAISS index, the
// in-memory catalog and the store agree.
func (g *Gallery) checkConsistency() error {
	g.mu.RLock()
	parts := slices.Collect(func(yield func(*part) bool) {
		for _, p := range g.parts {
			if !yield(p) {
				return
			}
		}
	})
	g.mu.RUnlock()
	for _, p := range parts {
		p.mu.Lock()
		p.ixmu.RLock()
		err := g.db.View(func(tx *bolt.Tx) error {
			pb := tx.Bucket(partBucketName(p.name))
			if pb == nil {
				return fmt.Errorf("%s: bucket missing", p.name)
			}
			nt, no, ns := pb.Bucket(bT).Stats().KeyN, pb.Bucket(bO).Stats().KeyN, pb.Bucket(bS).Stats().KeyN
			live := p.ix.ntotal() - len(p.tomb)
			if len(p.absent) != 0 {
				return fmt.Errorf("%s: %d absent ids at rest", p.name, len(p.absent))
			}
			if nt != len(p.owner) || no != nt || ns != nt || live != nt {
				return fmt.Errorf("%s: store t=%d o=%d s=%d, catalog %d, index live %d (ntotal %d, tomb %d)",
					p.name, nt, no, ns, len(p.owner), live, p.ix.ntotal(), len(p.tomb))
			}
			n := 0
			for s, ids := range p.subjects {
				for _, id := range ids {
					if p.owner[id] != s {
						return fmt.Errorf("%s: id %d owner %q vs subjects %q", p.name, id, p.owner[id], s)
					}
					if string(pb.Bucket(bO).Get(idKey(id))) != s {
						return fmt.Errorf("%s: id %d: store owner %q, catalog %q", p.name, id, pb.Bucket(bO).Get(idKey(id)), s)
					}
					if string(tx.Bucket(bLoc).Get(idKey(id))) != p.name {
						return fmt.Errorf("%s: id %d: loc %q", p.name, id, tx.Bucket(bLoc).Get(idKey(id)))
					}
					n++
				}
			}
			if n != len(p.owner) {
				return fmt.Errorf("%s: subjects hold %d ids, owner %d", p.name, n, len(p.owner))
			}
			return nil
		})
		p.ixmu.RUnlock()
		p.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

func sleepMs(ms int) { time.Sleep(time.Duration(ms) * time.Millisecond) }

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
