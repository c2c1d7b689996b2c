// Package service is Vizor's API-neutral biometric service: enrol, verify,
// search, delete and detect over an Engine and a Gallery, with the gate order
// (detection, alignment, PAD, MAD on enrol, quality, extraction) held once.
// HTTP flavours (the XML search API, later CompreFace, Facenet512,
// MassHealth) parse their own requests, call this package and map its typed
// errors (ErrNoFace, ErrQuality, ErrSpoof, ErrMorph, ErrNotFound, ...) to
// their own status codes.
//
// The package imports neither cgo bindings nor the store: server/backend
// adapts the real engine and gallery to the interfaces here, and tests use
// fakes.
package service

import "context"

// Rect is a face box in source pixels.
type Rect struct{ X, Y, W, H float32 }

// Area is the box area.
func (r Rect) Area() float32 { return r.W * r.H }

// Face is one detected face as the gates need it.
type Face struct {
	Box      Rect
	DetScore float32
	Aligned  bool    // landmarks were found and the face was aligned
	Liveness float32 // P(live) in [0,1]; < 0 when not computed
	// LivenessStatus says why Liveness is or is not a score: scored,
	// not_computed, greyscale, face_too_small ("" from engines that do
	// not say: Liveness < 0 means not_computed).
	LivenessStatus string
	Quality        float32   // overall quality in [0,1]; < 0 when not computed
	Template       []float32 // L2-normalised; nil when extraction failed
}

// ImageResult is the engine's analysis of one image. Err (wrapping
// ErrBadImage, ErrImageTooLarge or ErrNoFace) is set when the image failed.
type ImageResult struct {
	Width, Height int
	Faces         []Face
	Err           error
}

// EngineStatus reports the engine's models, for /health and /version.
type EngineStatus struct {
	Version    string
	ABIVersion int
	Backend    string
	ModelID    string          // the recognizer's id, carried by templates
	Components map[string]bool // detection, alignment, recognition, quality, pad: loaded
	Models     map[string]string
}

// Engine analyses a batch of encoded images in one call: detection,
// alignment, liveness, quality and template for every face. Implementations
// must be safe for concurrent use and must not keep the image slices after
// returning.
type Engine interface {
	Analyze(ctx context.Context, images [][]byte) ([]ImageResult, error)
	Status() EngineStatus
}

// Template is a stored or probe vector with the model that made it.
type Template struct {
	ModelID string
	Vector  []float32
}

// Candidate is one gallery match.
type Candidate struct {
	Subject    string
	Score      float32
	TemplateID string
	Rank       int // 1-based, set by the service
}

// PartitionStats counts one partition.
type PartitionStats struct {
	Subjects  int
	Templates int
}

// GalleryStats counts the whole store.
type GalleryStats struct {
	Subjects   int
	Templates  int
	Partitions map[string]PartitionStats
}

// Gallery stores templates by partition and subject. Unknown partitions and
// subjects are reported with errors wrapping ErrPartitionNotFound and
// ErrSubjectNotFound; a probe from another model with ErrModelMismatch.
type Gallery interface {
	Enrol(ctx context.Context, partition, subject string, t Template, image []byte) (templateID string, err error)
	Search(ctx context.Context, partition string, probe Template, topK int, minScore float32) ([]Candidate, error)
	Verify(ctx context.Context, partition, subject string, probe Template) (Candidate, error)
	DeleteSubject(ctx context.Context, partition, subject string) (removed int, err error)
	Partitions(ctx context.Context) ([]string, error)
	Stats(ctx context.Context) (GalleryStats, error)
	Close() error
}

// MorphDetector is the MAD model slot. No MAD model ships with Vizor; the
// gate is off (nil detector) until one is configured. Score returns the
// probability that the face in image is a morph.
type MorphDetector interface {
	Name() string
	Score(ctx context.Context, image []byte, face Face) (float32, error)
}
