package gallery

import (
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	faiss "github.com/DataIntelligenceCrew/go-faiss"
)

// Spec is a parsed index spec: a FAISS index_factory string (without the
// IDMap2 wrapper, which the gallery always adds) and optional search
// parameters, written "FACTORY[;name=value,...]", e.g. "Flat",
// "HNSW32,Flat;efSearch=128", "IVF4096,SQ8;nprobe=32".
type Spec struct {
	Factory string
	Params  map[string]float64
}

func (s Spec) String() string {
	if len(s.Params) == 0 {
		return s.Factory
	}
	names := make([]string, 0, len(s.Params))
	for k := range s.Params {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(s.Factory)
	for i, k := range names {
		if i == 0 {
			b.WriteByte(';')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + strconv.FormatFloat(s.Params[k], 'g', -1, 64))
	}
	return b.String()
}

// rerank reports whether search results are rescored exactly from the
// stored vectors ("rerank=1"; pointless for Flat).
func (s Spec) rerank() bool { return s.Params["rerank"] > 0 && !s.Exact() }

// Exact reports whether the spec is exhaustive float32 inner product search.
func (s Spec) Exact() bool { return s.Factory == "Flat" }

var ivfRe = regexp.MustCompile(`IVF(\d+)`)

// ParseSpec parses and normalises an index spec; "" means "Flat". HNSW gets
// efSearch=128 and IVF nprobe=max(8, nlist/128) unless given.
func ParseSpec(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = "Flat"
	}
	fac, params, _ := strings.Cut(s, ";")
	fac = strings.ReplaceAll(fac, " ", "")
	if fac == "" || strings.Contains(strings.ToUpper(fac), "IDMAP") {
		return Spec{}, fmt.Errorf("%w: %q", ErrInvalidSpec, s)
	}
	sp := Spec{Factory: fac, Params: map[string]float64{}}
	if params = strings.TrimSpace(params); params != "" {
		for _, kv := range strings.Split(params, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			f, err := strconv.ParseFloat(v, 64)
			if !ok || err != nil || (k != "efSearch" && k != "nprobe" && k != "shards" && k != "rerank") {
				return Spec{}, fmt.Errorf("%w: parameter %q (know efSearch=N, nprobe=N, shards=N, rerank=1)", ErrInvalidSpec, kv)
			}
			sp.Params[k] = f
		}
	}
	if strings.Contains(fac, "HNSW") {
		if _, ok := sp.Params["efSearch"]; !ok {
			sp.Params["efSearch"] = 128
		}
	}
	if m := ivfRe.FindStringSubmatch(fac); m != nil {
		if _, ok := sp.Params["nprobe"]; !ok {
			nlist, _ := strconv.Atoi(m[1])
			sp.Params["nprobe"] = float64(max(8, nlist/128))
		}
	}
	return sp, nil
}

// trainMin is how many templates a spec needs before it is trained (FAISS
// warns below 39 points per centroid); 0 if it needs no training.
func (s Spec) trainMin(trained bool) int {
	if trained {
		return 0
	}
	if m := ivfRe.FindStringSubmatch(s.Factory); m != nil {
		nlist, _ := strconv.Atoi(m[1])
		return max(1000, 39*nlist)
	}
	return 1000
}

// scanSpecs are the exhaustive (non-trained) specs: their search time is a
// linear scan, so they are split into shards searched in parallel, and they
// are rebuilt from the store at start-up rather than snapshotted (the build
// is a copy, as fast as reading a snapshot).
func (s Spec) scan() bool { return s.Factory == "Flat" || s.Factory == "SQfp16" }

// defaultShards is how many shards a scan index is split into.
func defaultShards() int { return min(runtime.GOMAXPROCS(0), 8) }

// fIndex is a FAISS IndexIDMap2 over the spec's index, or, for scan specs,
// several of them (ids spread by id modulo the shard count) searched in
// parallel and merged.
type fIndex struct {
	shards    []*faiss.IndexImpl
	spec      Spec
	dim       int
	removable bool // supports remove_ids (HNSW does not)
	// scratch for spreading a batch over shards (add runs under the
	// partition's write lock or on an index not yet shared)
	sv [][]float32
	si [][]int64
}

func newIndex(dim int, sp Spec) (*fIndex, error) {
	n := 1
	if sp.scan() {
		n = defaultShards()
		if v, ok := sp.Params["shards"]; ok {
			n = max(1, min(64, int(v)))
		}
	}
	ix := &fIndex{spec: sp, dim: dim, removable: !containsHNSW(sp.Factory)}
	for i := 0; i < n; i++ {
		fi, err := faiss.IndexFactory(dim, "IDMap2,"+sp.Factory, faiss.MetricInnerProduct)
		if err != nil {
			ix.free()
			return nil, fmt.Errorf("%w: %q: %v", ErrInvalidSpec, sp.Factory, err)
		}
		ix.shards = append(ix.shards, fi)
	}
	if err := ix.applyParams(); err != nil {
		ix.free()
		return nil, err
	}
	return ix, nil
}

func (ix *fIndex) applyParams() error {
	ps, err := faiss.NewParameterSpace()
	if err != nil {
		return err
	}
	defer ps.Delete()
	for k, v := range ix.spec.Params {
		if k == "shards" || k == "rerank" {
			continue
		}
		for _, fi := range ix.shards {
			if err := ps.SetIndexParameter(fi, k, v); err != nil {
				return fmt.Errorf("%w: %s=%g on %q: %v", ErrInvalidSpec, k, v, ix.spec.Factory, err)
			}
		}
	}
	return nil
}

func (ix *fIndex) isTrained() bool { return ix.shards[0].IsTrained() }

func (ix *fIndex) train(vecs []float32) error {
	for _, fi := range ix.shards {
		if err := fi.Train(vecs); err != nil {
			return err
		}
	}
	return nil
}

func (ix *fIndex) add(vecs []float32, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	n := int64(len(ix.shards))
	if n == 1 {
		return ix.shards[0].AddWithIDs(vecs, ids)
	}
	if len(ids) == 1 {
		return ix.shards[ids[0]%n].AddWithIDs(vecs, ids)
	}
	if len(ix.sv) != int(n) {
		ix.sv, ix.si = make([][]float32, n), make([][]int64, n)
	}
	sv, si := ix.sv, ix.si
	for s := range sv {
		sv[s], si[s] = sv[s][:0], si[s][:0]
	}
	for i, id := range ids {
		s := id % n
		sv[s] = append(sv[s], vecs[i*ix.dim:(i+1)*ix.dim]...)
		si[s] = append(si[s], id)
	}
	for s, fi := range ix.shards {
		if len(si[s]) > 0 {
			if err := fi.AddWithIDs(sv[s], si[s]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (ix *fIndex) remove(ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	sel, err := faiss.NewIDSelectorBatch(ids)
	if err != nil {
		return err
	}
	defer sel.Delete()
	for _, fi := range ix.shards {
		if _, err = fi.RemoveIDs(sel); err != nil {
			return err
		}
	}
	return nil
}

// search returns up to k (score, id) pairs, best first; ids < 0 are empty
// slots.
func (ix *fIndex) search(x []float32, k int) ([]float32, []int64, error) {
	if len(ix.shards) == 1 {
		return ix.shards[0].Search(x, int64(k))
	}
	type res struct {
		d   []float32
		l   []int64
		err error
	}
	out := make([]res, len(ix.shards))
	var wg sync.WaitGroup
	for i, fi := range ix.shards[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, l, err := fi.Search(x, int64(k))
			out[i+1] = res{d, l, err}
		}()
	}
	d, l, err := ix.shards[0].Search(x, int64(k))
	out[0] = res{d, l, err}
	wg.Wait()
	// k-way merge of the shards' sorted lists.
	dist, labels := make([]float32, 0, k), make([]int64, 0, k)
	pos := make([]int, len(out))
	for len(labels) < k {
		best := -1
		for s, r := range out {
			if r.err != nil {
				return nil, nil, r.err
			}
			if pos[s] < len(r.l) && r.l[pos[s]] >= 0 && (best < 0 || r.d[pos[s]] > out[best].d[pos[best]]) {
				best = s
			}
		}
		if best < 0 {
			break
		}
		dist = append(dist, out[best].d[pos[best]])
		labels = append(labels, out[best].l[pos[best]])
		pos[best]++
	}
	return dist, labels, nil
}

func (ix *fIndex) ntotal() int {
	n := 0
	for _, fi := range ix.shards {
		n += int(fi.Ntotal())
	}
	return n
}

func (ix *fIndex) free() {
	if ix == nil {
		return
	}
	for _, fi := range ix.shards {
		fi.Delete()
	}
	ix.shards = nil
}

func containsHNSW(factory string) bool { return strings.Contains(factory, "HNSW") }
