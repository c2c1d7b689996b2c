package gallery

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

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
			if !ok || err != nil || (k != "efSearch" && k != "nprobe") {
				return Spec{}, fmt.Errorf("%w: parameter %q (know efSearch=N, nprobe=N)", ErrInvalidSpec, kv)
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

// fIndex is a FAISS IndexIDMap2 over the spec's index.
type fIndex struct {
	fi        *faiss.IndexImpl
	spec      Spec
	removable bool // supports remove_ids (HNSW does not)
}

func newIndex(dim int, sp Spec) (*fIndex, error) {
	fi, err := faiss.IndexFactory(dim, "IDMap2,"+sp.Factory, faiss.MetricInnerProduct)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalidSpec, sp.Factory, err)
	}
	ix := &fIndex{fi: fi, spec: sp, removable: !containsHNSW(sp.Factory)}
	if err := ix.applyParams(); err != nil {
		fi.Delete()
		return nil, err
	}
	return ix, nil
}

func (ix *fIndex) applyParams() error {
	if len(ix.spec.Params) == 0 {
		return nil
	}
	ps, err := faiss.NewParameterSpace()
	if err != nil {
		return err
	}
	defer ps.Delete()
	for k, v := range ix.spec.Params {
		if err := ps.SetIndexParameter(ix.fi, k, v); err != nil {
			return fmt.Errorf("%w: %s=%g on %q: %v", ErrInvalidSpec, k, v, ix.spec.Factory, err)
		}
	}
	return nil
}

func (ix *fIndex) add(vecs []float32, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return ix.fi.AddWithIDs(vecs, ids)
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
	_, err = ix.fi.RemoveIDs(sel)
	return err
}

func (ix *fIndex) ntotal() int { return int(ix.fi.Ntotal()) }

func (ix *fIndex) free() {
	if ix != nil && ix.fi != nil {
		ix.fi.Delete()
		ix.fi = nil
	}
}

func containsHNSW(factory string) bool { return strings.Contains(factory, "HNSW") }
