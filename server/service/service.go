package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// Config holds the service's defaults; requests may override thresholds.
type Config struct {
	MatchThreshold        float32   // verify: score >= this is a match
	QualityThreshold      float32   // enrol quality gate
	ProbeQualityThreshold float32   // search/verify quality gate
	PADThreshold          float32   // P(live) below this is a spoof; 0 disables the gate
	PADPolicy             PADPolicy // for partitions and flavours without one; "": enforce
	MAD                   MorphDetector
	MADThreshold          float32
	DefaultPartition      string // "default" when empty
	DefaultTopK           int
	MaxTopK               int
	// DataDir is the gallery's directory: Storage (and /health) watch its
	// filesystem. "" reports nothing.
	DataDir      string
	MinFreeBytes int64 // free space reserve; 0: DefaultMinFreeBytes
}

// FaceChoice selects the face of a multi-face image.
type FaceChoice int

// FaceLargest (the zero value) picks the face with the largest box; a value
// n >= 1 picks the n-th largest (FaceIndex(0) == FaceLargest).
const FaceLargest FaceChoice = 0

// FaceIndex picks the i-th largest face (0-based).
func FaceIndex(i int) FaceChoice { return FaceChoice(i) }

// Options are per-request settings. Nil pointers take the service defaults.
type Options struct {
	Partition        string
	Face             FaceChoice
	MatchThreshold   *float32
	QualityThreshold *float32
	PADThreshold     *float32
	PAD              PADRequest // the PAD policy: request, flavour default, key's right to weaken
	TopK             int
	MinScore         *float32
}

// Probe describes the face a request used.
type Probe struct {
	FaceIndex     int // 0-based, largest first
	FacesDetected int
	Box           Rect
	DetScore      float32
	Quality       float32
	Liveness      float32 // < 0: not computed
	PAD           PADResult
	MorphScore    float32 // < 0: MAD gate off
	ModelID       string
	Width, Height int
	Template      []float32 `json:"-"`
}

// SearchResult is a 1:N search.
type SearchResult struct {
	Probe      Probe
	Partition  string
	Candidates []Candidate // best first, Rank from 1
	TopK       int
	MinScore   float32
}

// VerifyResult is a 1:1 comparison.
type VerifyResult struct {
	Probe      Probe
	Partition  string
	Subject    string
	Score      float32
	Match      bool
	Threshold  float32
	TemplateID string
}

// EnrolResult is a stored template.
type EnrolResult struct {
	Probe      Probe
	Partition  string
	Subject    string
	TemplateID string
}

// DeleteResult is a removed subject.
type DeleteResult struct {
	Partition string
	Subject   string
	Removed   int
}

// Operation names, as used for API-key scopes and metrics.
const (
	OpSearch = "search"
	OpVerify = "verify"
	OpEnrol  = "enrol"
	OpDelete = "delete"
	OpDetect = "detect"
	OpRead   = "read"
)

// Service is safe for concurrent use.
type Service struct {
	cfg     Config
	engine  Engine
	gallery Gallery
	modelID string
	closed  atomic.Bool
	storage *storage

	// Observer, when set, is told of each gate rejection (for metrics).
	OnReject func(op, gate string)
	// OnPAD, when set, is told of each PAD outcome reported (policy not
	// off): under report, the spoofs an enforce policy would have refused.
	OnPAD func(op string, r PADResult)
}

// New builds a service.
func New(cfg Config, engine Engine, gallery Gallery) *Service {
	if cfg.DefaultPartition == "" {
		cfg.DefaultPartition = "default"
	}
	if cfg.DefaultTopK <= 0 {
		cfg.DefaultTopK = 5
	}
	if cfg.MaxTopK < cfg.DefaultTopK {
		cfg.MaxTopK = max(100, cfg.DefaultTopK)
	}
	return &Service{cfg: cfg, engine: engine, gallery: gallery, modelID: engine.Status().ModelID,
		storage: newStorage(cfg.DataDir, cfg.MinFreeBytes)}
}

// Config returns the service defaults.
func (s *Service) Config() Config { return s.cfg }

// ModelID is the recognizer's id.
func (s *Service) ModelID() string { return s.modelID }

// MADEnabled reports whether a MAD model is configured.
func (s *Service) MADEnabled() bool { return s.cfg.MAD != nil }

// Close closes the gallery (the engine is closed by its owner).
func (s *Service) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.gallery.Close()
}

const maxIDLen = 256

// ValidateID checks a subject or partition id: 1..256 bytes of printable
// UTF-8 without control characters.
func ValidateID(kind, id string) error {
	if id == "" {
		return newErr(ErrInvalid, "%s is required", kind)
	}
	if len(id) > maxIDLen {
		return newErr(ErrInvalid, "%s longer than %d bytes", kind, maxIDLen)
	}
	if !utf8.ValidString(id) {
		return newErr(ErrInvalid, "%s is not valid UTF-8", kind)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return newErr(ErrInvalid, "%s contains control characters", kind)
		}
	}
	return nil
}

func (s *Service) partition(o Options) (string, error) {
	p := strings.TrimSpace(o.Partition)
	if p == "" {
		p = s.cfg.DefaultPartition
	}
	return p, ValidateID("partition", p)
}

func pick(v *float32, def float32) float32 {
	if v != nil {
		return *v
	}
	return def
}

// probe runs the engine on one image and applies the gates in order:
// detection, alignment, PAD, MAD (enrol only), quality, extraction.
func (s *Service) probe(ctx context.Context, op string, image []byte, o Options) (Probe, error) {
	if len(image) == 0 {
		return Probe{}, newErr(ErrInvalid, "image is required")
	}
	if err := checkOptions(o); err != nil {
		return Probe{}, err
	}
	// The policy is resolved before the engine runs: a request refused
	// for its pad_policy costs no analysis.
	part, err := s.partition(o)
	if err != nil {
		return Probe{}, err
	}
	padPolicy, err := s.EffectivePADPolicy(ctx, part, o.PAD)
	if err != nil {
		return Probe{}, err
	}
	padT := pick(o.PADThreshold, s.cfg.PADThreshold)
	ectx := ctx
	if padPolicy == PADOff || padT <= 0 {
		ectx = WithoutPAD(ctx) // the engine may skip the stage
	}
	rs, err := s.engine.Analyze(ectx, [][]byte{image})
	if err != nil {
		return Probe{}, s.engineErr(ctx, err)
	}
	if len(rs) != 1 {
		return Probe{}, &Error{Kind: ErrInternal, Msg: fmt.Sprintf("engine returned %d results for 1 image", len(rs))}
	}
	r := rs[0]
	if r.Err != nil {
		return Probe{}, s.imageErr(op, r.Err)
	}
	faces := sortedBySize(r.Faces)
	if len(faces) > ProbeFaces { // the engine was asked for no more
		faces = faces[:ProbeFaces]
	}
	// Gate 1: detection.
	if len(faces) == 0 {
		s.reject(op, "detection")
		return Probe{}, &Error{Kind: ErrNoFace, Gate: "detection", Msg: "the image contains no detectable face"}
	}
	idx := int(o.Face)
	if idx >= len(faces) {
		return Probe{}, newErr(ErrInvalid, "face_index %d out of range: %d face(s) detected", idx, len(faces))
	}
	f := faces[idx]
	p := Probe{
		FaceIndex: idx, FacesDetected: len(faces), Box: f.Box, DetScore: f.DetScore,
		Quality: f.Quality, Liveness: f.Liveness, MorphScore: -1, ModelID: s.modelID,
		Width: r.Width, Height: r.Height,
	}
	// Gate 2: alignment.
	if !f.Aligned {
		s.reject(op, "alignment")
		return p, &Error{Kind: ErrAlignment, Gate: "alignment", Msg: "facial landmarks could not be located"}
	}
	// Gate 3: presentation attack detection, as the PAD policy says
	// (pad.go): enforce refuses spoofs, report only reports, off neither.
	pad, err := JudgePAD(padPolicy, padT, f)
	p.PAD = pad
	s.ObservePAD(op, pad)
	if pad.Policy == PADOff {
		p.Liveness = -1
	}
	if err != nil {
		if Kind(err) == ErrSpoof {
			s.reject(op, "pad")
		}
		return p, err
	}
	// Gate 4: morphing attack detection, enrolment only; off without a model.
	if op == OpEnrol && s.cfg.MAD != nil {
		ms, err := s.cfg.MAD.Score(ctx, image, f)
		if err != nil {
			return p, &Error{Kind: ErrUnavailable, Msg: "MAD model failed", Cause: err}
		}
		p.MorphScore = ms
		if ms >= s.cfg.MADThreshold {
			s.reject(op, "mad")
			return p, gateErr(ErrMorph, "mad", ms, s.cfg.MADThreshold, "morph score %.3f at or above %.3f", ms, s.cfg.MADThreshold)
		}
	}
	// Gate 5: quality.
	qdef := s.cfg.ProbeQualityThreshold
	if op == OpEnrol {
		qdef = s.cfg.QualityThreshold
	}
	if qt := pick(o.QualityThreshold, qdef); qt > 0 {
		if f.Quality < 0 {
			return p, newErr(ErrUnavailable, "quality was not computed")
		}
		if f.Quality < qt {
			s.reject(op, "quality")
			return p, gateErr(ErrQuality, "quality", f.Quality, qt, "quality %.3f below %.3f", f.Quality, qt)
		}
	}
	// Gate 6: extraction.
	if len(f.Template) == 0 {
		s.reject(op, "extraction")
		return p, &Error{Kind: ErrExtraction, Gate: "extraction", Msg: "no template for the selected face"}
	}
	p.Template = f.Template
	return p, nil
}

func (s *Service) reject(op, gate string) {
	if s.OnReject != nil {
		s.OnReject(op, gate)
	}
}

// sortedBySize returns the faces largest first (stable for equal areas).
func sortedBySize(faces []Face) []Face {
	out := append([]Face(nil), faces...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Box.Area() > out[j-1].Box.Area(); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func (s *Service) imageErr(op string, err error) error {
	switch {
	case errors.Is(err, ErrNoFace):
		s.reject(op, "detection")
		return &Error{Kind: ErrNoFace, Gate: "detection", Msg: "the image contains no detectable face"}
	case errors.Is(err, ErrBadImage), errors.Is(err, ErrImageTooLarge):
		return err
	case errors.Is(err, ErrInternal), errors.Is(err, ErrUnavailable):
		// The engine failed on this image (e.g. its worker crashed): a
		// server fault for this request only, not the client's.
		return err
	}
	return &Error{Kind: ErrBadImage, Msg: "image rejected by the engine", Cause: err}
}

func (s *Service) engineErr(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
		return &Error{Kind: ErrTimeout, Msg: "the engine did not answer in time", Cause: err}
	case errors.Is(err, context.Canceled):
		return &Error{Kind: ErrUnavailable, Msg: "request cancelled", Cause: err}
	case Kind(err) != ErrInternal:
		return err
	}
	return &Error{Kind: ErrInternal, Msg: "engine failure", Cause: err}
}

func (s *Service) galleryErr(err error) error {
	if err == nil {
		return nil
	}
	if Kind(err) != ErrInternal {
		return err
	}
	return &Error{Kind: ErrInternal, Msg: "gallery failure", Cause: err}
}

func (s *Service) template(p Probe) Template {
	return Template{ModelID: s.modelID, Vector: p.Template}
}

// Search runs a 1:N search with the selected face of image.
func (s *Service) Search(ctx context.Context, image []byte, o Options) (SearchResult, error) {
	part, err := s.partition(o)
	if err != nil {
		return SearchResult{}, err
	}
	topK := o.TopK
	if topK == 0 {
		topK = s.cfg.DefaultTopK
	}
	if topK < 1 || topK > s.cfg.MaxTopK {
		return SearchResult{}, newErr(ErrInvalid, "top_k must be in [1,%d]", s.cfg.MaxTopK)
	}
	minScore := pick(o.MinScore, -1)
	if !inRange(minScore, -1, 1) {
		return SearchResult{}, newErr(ErrInvalid, "min_score must be in [-1,1]")
	}
	p, err := s.probe(ctx, OpSearch, image, o)
	if err != nil {
		return SearchResult{Probe: p}, err
	}
	cands, err := s.gallery.Search(ctx, part, s.template(p), topK, minScore)
	if err != nil {
		return SearchResult{Probe: p}, s.galleryErr(err)
	}
	for i := range cands {
		cands[i].Rank = i + 1
	}
	return SearchResult{Probe: p, Partition: part, Candidates: cands, TopK: topK, MinScore: minScore}, nil
}

// Verify compares the selected face of image with an enrolled subject.
func (s *Service) Verify(ctx context.Context, image []byte, subject string, o Options) (VerifyResult, error) {
	part, err := s.partition(o)
	if err != nil {
		return VerifyResult{}, err
	}
	if err := ValidateID("subject_id", subject); err != nil {
		return VerifyResult{}, err
	}
	thr := pick(o.MatchThreshold, s.cfg.MatchThreshold)
	if !inRange(thr, -1, 1) {
		return VerifyResult{}, newErr(ErrInvalid, "threshold must be in [-1,1]")
	}
	p, err := s.probe(ctx, OpVerify, image, o)
	if err != nil {
		return VerifyResult{Probe: p}, err
	}
	c, err := s.gallery.Verify(ctx, part, subject, s.template(p))
	if err != nil {
		return VerifyResult{Probe: p}, s.galleryErr(err)
	}
	return VerifyResult{Probe: p, Partition: part, Subject: subject, Score: c.Score, Match: c.Score >= thr,
		Threshold: thr, TemplateID: c.TemplateID}, nil
}

// Enrol stores the selected face of image as a template of subject (a
// subject may hold several templates). keepImage stores the image too when
// the gallery is configured to.
func (s *Service) Enrol(ctx context.Context, image []byte, subject string, o Options) (EnrolResult, error) {
	part, err := s.partition(o)
	if err != nil {
		return EnrolResult{}, err
	}
	if err := ValidateNewID("partition", part); err != nil {
		return EnrolResult{}, err
	}
	if err := ValidateNewID("subject_id", subject); err != nil {
		return EnrolResult{}, err
	}
	p, err := s.probe(ctx, OpEnrol, image, o)
	if err != nil {
		return EnrolResult{Probe: p}, err
	}
	id, err := s.gallery.Enrol(ctx, part, subject, s.template(p), image)
	s.storage.wrote(err)
	if err != nil {
		return EnrolResult{Probe: p}, s.galleryErr(err)
	}
	return EnrolResult{Probe: p, Partition: part, Subject: subject, TemplateID: id}, nil
}

// Delete removes every template of subject.
func (s *Service) Delete(ctx context.Context, subject string, o Options) (DeleteResult, error) {
	part, err := s.partition(o)
	if err != nil {
		return DeleteResult{}, err
	}
	if err := ValidateID("subject_id", subject); err != nil {
		return DeleteResult{}, err
	}
	n, err := s.gallery.DeleteSubject(ctx, part, subject)
	s.storage.failed(err)
	if err != nil {
		return DeleteResult{}, s.galleryErr(err)
	}
	if n == 0 {
		return DeleteResult{}, &Error{Kind: ErrSubjectNotFound, Msg: fmt.Sprintf("subject %q not in partition %q", subject, part)}
	}
	return DeleteResult{Partition: part, Subject: subject, Removed: n}, nil
}

// Detect analyses image and returns every face (largest first) without
// gates; for flavours that expose detection.
func (s *Service) Detect(ctx context.Context, image []byte) (ImageResult, error) {
	if len(image) == 0 {
		return ImageResult{}, newErr(ErrInvalid, "image is required")
	}
	rs, err := s.engine.Analyze(ctx, [][]byte{image})
	if err != nil {
		return ImageResult{}, s.engineErr(ctx, err)
	}
	r := rs[0]
	if r.Err != nil && !errors.Is(r.Err, ErrNoFace) {
		return r, s.imageErr(OpDetect, r.Err)
	}
	r.Err = nil
	r.Faces = sortedBySize(r.Faces)
	return r, nil
}

// Partitions lists the gallery partitions.
func (s *Service) Partitions(ctx context.Context) ([]string, error) {
	ps, err := s.gallery.Partitions(ctx)
	return ps, s.galleryErr(err)
}

// Stats counts the gallery.
func (s *Service) Stats(ctx context.Context) (GalleryStats, error) {
	st, err := s.gallery.Stats(ctx)
	return st, s.galleryErr(err)
}

// EngineStatus reports the engine's versions and models.
func (s *Service) EngineStatus() EngineStatus { return s.engine.Status() }

// Health reports each component: the engine's models and the gallery.
// The MAD slot is reported separately by MADEnabled (off is not down).
func (s *Service) Health(ctx context.Context) (map[string]bool, EngineStatus) {
	st := s.engine.Status()
	comp := map[string]bool{}
	for k, v := range st.Components {
		comp[k] = v
	}
	_, err := s.GalleryStatus(ctx)
	comp["gallery"] = err == nil && !s.closed.Load()
	return comp, st
}
