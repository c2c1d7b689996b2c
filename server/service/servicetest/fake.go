// Package servicetest has fakes of the service's Engine and Gallery for
// tests that must not need the native engine or FAISS.
package servicetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"vizor/server/service"

	"vizor/internal/vec"
)

// FakeFace describes a face in a fake image.
type FakeFace struct {
	W, H     float32
	Quality  float32
	Liveness float32
	// LivenessStatus is the engine's liveness status ("": none given).
	LivenessStatus string `json:",omitempty"`
	Seed           int64  // identity: same seed, same template
	NoAlign        bool
	NoExtract      bool
}

// Image encodes a fake image the FakeEngine understands.
func Image(faces ...FakeFace) []byte {
	b, _ := json.Marshal(faces)
	return append([]byte("FAKEIMG"), b...)
}

// FakeEngine "analyses" images made by Image; anything else is ErrBadImage.
type FakeEngine struct {
	Delay   time.Duration
	Calls   atomic.Int64
	Images  atomic.Int64
	MaxSeen atomic.Int64 // largest batch
	// NoPAD counts the images analysed without the PAD stage
	// (service.WithoutPAD): their faces have no liveness score.
	NoPAD atomic.Int64
}

// Status implements service.Engine.
func (e *FakeEngine) Status() service.EngineStatus {
	return service.EngineStatus{Version: "fake", ModelID: "fake-model-8", Backend: "cpu",
		Components: map[string]bool{"detection": true, "alignment": true, "recognition": true, "quality": true, "pad": true}}
}

// Analyze implements service.Engine.
func (e *FakeEngine) Analyze(ctx context.Context, images [][]byte) ([]service.ImageResult, error) {
	e.Calls.Add(1)
	e.Images.Add(int64(len(images)))
	for {
		m := e.MaxSeen.Load()
		if int64(len(images)) <= m || e.MaxSeen.CompareAndSwap(m, int64(len(images))) {
			break
		}
	}
	if e.Delay > 0 {
		select {
		case <-time.After(e.Delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	noPAD := service.PADSkipped(ctx)
	if noPAD {
		e.NoPAD.Add(int64(len(images)))
	}
	out := make([]service.ImageResult, len(images))
	for i, img := range images {
		if !bytes.HasPrefix(img, []byte("FAKEIMG")) {
			out[i].Err = &service.Error{Kind: service.ErrBadImage, Msg: "not an image"}
			continue
		}
		var faces []FakeFace
		if err := json.Unmarshal(img[7:], &faces); err != nil {
			out[i].Err = &service.Error{Kind: service.ErrBadImage, Msg: "corrupt image"}
			continue
		}
		out[i].Width, out[i].Height = 640, 480
		if len(faces) == 0 {
			out[i].Err = &service.Error{Kind: service.ErrNoFace}
			continue
		}
		for k, f := range faces {
			sf := service.Face{Box: service.Rect{X: float32(10 * k), Y: 10, W: f.W, H: f.H}, DetScore: 0.99,
				Aligned: !f.NoAlign, Liveness: f.Liveness, LivenessStatus: f.LivenessStatus, Quality: f.Quality}
			if !f.NoExtract && !f.NoAlign {
				sf.Template = Vector(f.Seed, 8)
			}
			if noPAD {
				sf.Liveness, sf.LivenessStatus = -1, service.LivenessNotComputed
			}
			out[i].Faces = append(out[i].Faces, sf)
		}
	}
	return out, nil
}

// Vector is a deterministic unit vector for seed.
func Vector(seed int64, dim int) []float32 {
	return vec.RandomUnit(rand.New(rand.NewSource(seed)), dim)
}

type tmpl struct {
	id  string
	vec []float32
}

// MemGallery is an in-memory gallery with brute-force search.
type MemGallery struct {
	mu     sync.Mutex
	parts  map[string]map[string][]tmpl
	pad    map[string]string // partition -> PAD policy
	seq    int
	closed bool
}

// NewMemGallery returns an empty gallery.
func NewMemGallery() *MemGallery { return &MemGallery{parts: map[string]map[string][]tmpl{}} }

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Enrol implements service.Gallery.
func (g *MemGallery) Enrol(_ context.Context, partition, subject string, t service.Template, _ []byte) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return "", service.ErrUnavailable
	}
	p := g.parts[partition]
	if p == nil {
		p = map[string][]tmpl{}
		g.parts[partition] = p
	}
	g.seq++
	id := strconv.Itoa(g.seq)
	p[subject] = append(p[subject], tmpl{id, append([]float32(nil), t.Vector...)})
	return id, nil
}

// Search implements service.Gallery.
func (g *MemGallery) Search(_ context.Context, partition string, probe service.Template, topK int, minScore float32) ([]service.Candidate, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.parts[partition]
	if !ok {
		return nil, &service.Error{Kind: service.ErrPartitionNotFound, Msg: fmt.Sprintf("%q", partition)}
	}
	out := []service.Candidate{}
	for s, ts := range p {
		best := service.Candidate{Subject: s, Score: -2}
		for _, t := range ts {
			if d := dot(t.vec, probe.Vector); d > best.Score {
				best.Score, best.TemplateID = d, t.id
			}
		}
		if best.Score >= minScore {
			out = append(out, best)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	if len(out) > topK {
		out = out[:topK]
	}
	return out, nil
}

// Verify implements service.Gallery.
func (g *MemGallery) Verify(_ context.Context, partition, subject string, probe service.Template) (service.Candidate, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.parts[partition]
	if !ok {
		return service.Candidate{}, &service.Error{Kind: service.ErrPartitionNotFound, Msg: fmt.Sprintf("%q", partition)}
	}
	ts := p[subject]
	if len(ts) == 0 {
		return service.Candidate{}, &service.Error{Kind: service.ErrSubjectNotFound, Msg: fmt.Sprintf("%q", subject)}
	}
	best := service.Candidate{Subject: subject, Score: -2}
	for _, t := range ts {
		if d := dot(t.vec, probe.Vector); d > best.Score {
			best.Score, best.TemplateID = d, t.id
		}
	}
	return best, nil
}

// DeleteSubject implements service.Gallery.
func (g *MemGallery) DeleteSubject(_ context.Context, partition, subject string) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.parts[partition]
	if !ok {
		return 0, &service.Error{Kind: service.ErrPartitionNotFound, Msg: fmt.Sprintf("%q", partition)}
	}
	n := len(p[subject])
	if n == 0 {
		return 0, &service.Error{Kind: service.ErrSubjectNotFound, Msg: fmt.Sprintf("%q", subject)}
	}
	delete(p, subject)
	return n, nil
}

// Partitions implements service.Gallery.
func (g *MemGallery) Partitions(context.Context) ([]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := []string{}
	for p := range g.parts {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// Stats implements service.Gallery.
func (g *MemGallery) Stats(context.Context) (service.GalleryStats, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := service.GalleryStats{Partitions: map[string]service.PartitionStats{}}
	for name, p := range g.parts {
		ps := service.PartitionStats{Subjects: len(p)}
		for _, ts := range p {
			ps.Templates += len(ts)
		}
		st.Partitions[name] = ps
		st.Subjects += ps.Subjects
		st.Templates += ps.Templates
	}
	return st, nil
}

// Close implements service.Gallery.
func (g *MemGallery) Close() error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	return nil
}

// PartitionPADPolicy implements service.PADStore.
func (g *MemGallery) PartitionPADPolicy(_ context.Context, partition string) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pad[partition], nil
}

// SetPartitionPADPolicy implements service.PADStore.
func (g *MemGallery) SetPartitionPADPolicy(_ context.Context, partition, policy string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pad == nil {
		g.pad = map[string]string{}
	}
	if policy == "" {
		delete(g.pad, partition)
	} else {
		g.pad[partition] = policy
	}
	return nil
}
