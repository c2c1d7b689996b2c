package gallery

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// Config configures Open.
type Config struct {
	// Dir holds the store (gallery.db) and FAISS snapshots (snapshots/).
	// Created if missing.
	Dir string
	// KeepImages stores the image bytes passed in EnrolOptions.Image so that
	// Image(id) can return them. Off by default (privacy): images are dropped.
	KeepImages bool
	// DefaultIndexSpec is the index spec of new partitions; "" means "Flat"
	// (exact inner product). See ParseSpec for the syntax.
	DefaultIndexSpec string
	// IndexSpecs overrides DefaultIndexSpec per partition name when the
	// partition is created. An existing partition keeps its stored spec;
	// change it with SetIndexSpec.
	IndexSpecs map[string]string
	// MaxBatchDelay bounds how long an enrolment or delete waits for others
	// to share its commit (fsync). 0 means 1ms.
	MaxBatchDelay time.Duration
	// NoSync disables fsync (tests and benchmarks only: NOT durable).
	NoSync bool
}

// Template is a face template: an L2-normalised vector and the id of the
// model that produced it.
type Template struct {
	Model  string
	Vector []float32
}

// EnrolOptions carries optional data stored with a template.
type EnrolOptions struct {
	// Image is the original image; kept only when Config.KeepImages or
	// KeepImage is set.
	Image []byte
	// KeepImage stores Image even when Config.KeepImages is off: for the
	// APIs whose contract includes the image (CompreFace downloads by image
	// id, Facenet512 "stores both the embedding and image"). The XML API
	// leaves it off, so images stay out of the store by default.
	KeepImage bool
	// Meta is free-form metadata (e.g. "filename"); at most 64 entries and
	// 64 KiB in all.
	Meta map[string]string
	// Key makes the enrolment idempotent on a backend that derives template
	// ids from (partition, subject, Key): the cluster backend stores a
	// retried enrolment (same key) once. "" means a fresh random key. Use
	// one key per template (a request id plus the template's index).
	Key string
}

// TemplateInfo describes a stored template (without its vector).
type TemplateInfo struct {
	ID        uint64
	Partition string
	Subject   string
	Model     string
	Dim       int
	Created   time.Time
	Meta      map[string]string
	HasImage  bool
}

// IDString is the template id as callers show it.
func (t TemplateInfo) IDString() string { return FormatID(t.ID) }

// FormatID formats a template id as a decimal string.
func FormatID(id uint64) string { return strconv.FormatUint(id, 10) }

// ParseID parses a template id formatted by FormatID.
func ParseID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("%w: template id %q", ErrTemplateNotFound, s)
	}
	return id, nil
}

// Candidate is one search or verify result.
type Candidate struct {
	Subject    string
	Score      float32 // inner product (cosine for normalised templates)
	TemplateID uint64  // the subject's best-scoring template
}

// Stats are gallery-wide and per-partition counts.
type Stats struct {
	Partitions int
	Subjects   int
	Templates  int
	// PerPartition is sorted by name.
	PerPartition []PartitionStats
	// Notes records start-up events worth a log line (e.g. a snapshot that
	// was corrupt and was rebuilt from the store).
	Notes []string
}

// PartitionStats describes one partition.
type PartitionStats struct {
	Name      string
	Model     string
	Dim       int
	Subjects  int
	Templates int
	// IndexSpec is the configured spec; ActiveIndex the one serving searches
	// (they differ while a trained index waits for enough templates, or
	// during a rebuild).
	IndexSpec   string
	ActiveIndex string
	// Indexed counts vectors in the FAISS index, including deleted ones not
	// yet compacted away.
	Indexed    int
	Rebuilding bool
}

var partitionRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ValidPartitionName reports whether s is a valid partition name: 1-64
// characters of [A-Za-z0-9._-].
func ValidPartitionName(s string) bool { return partitionRe.MatchString(s) }

// ValidSubjectName reports whether s is a valid subject id: 1-256 bytes of
// UTF-8 without control characters.
func ValidSubjectName(s string) bool {
	if len(s) == 0 || len(s) > 256 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func checkPartition(s string) error {
	if !ValidPartitionName(s) {
		return fmt.Errorf("%w: partition %q (want 1-64 chars of [A-Za-z0-9._-])", ErrInvalidName, s)
	}
	return nil
}

func checkSubject(s string) error {
	if !ValidSubjectName(s) {
		return fmt.Errorf("%w: subject %q (want 1-256 bytes of UTF-8, no control characters)", ErrInvalidName, s)
	}
	return nil
}

const maxDim = 8192

// checkTemplate validates a template. A vector whose norm is off by more than
// 1e-3 is rejected: scores are inner products and only mean cosine for
// normalised vectors.
func checkTemplate(t Template) error {
	if t.Model == "" || len(t.Model) > 128 || !utf8.ValidString(t.Model) {
		return fmt.Errorf("%w: model id %q (want 1-128 bytes)", ErrInvalidTemplate, t.Model)
	}
	if len(t.Vector) == 0 || len(t.Vector) > maxDim {
		return fmt.Errorf("%w: %d dimensions", ErrInvalidTemplate, len(t.Vector))
	}
	var n float64
	for _, v := range t.Vector {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%w: non-finite value", ErrInvalidTemplate)
		}
		n += float64(v) * float64(v)
	}
	if math.Abs(math.Sqrt(n)-1) > 1e-3 {
		return fmt.Errorf("%w: not L2-normalised (norm %.4f)", ErrInvalidTemplate, math.Sqrt(n))
	}
	return nil
}

func checkMeta(m map[string]string) error {
	if len(m) > 64 {
		return fmt.Errorf("%w: %d metadata entries (max 64)", ErrInvalidTemplate, len(m))
	}
	size := 0
	for k, v := range m {
		size += len(k) + len(v)
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("%w: metadata key %q", ErrInvalidTemplate, k)
		}
	}
	if size > 64<<10 {
		return fmt.Errorf("%w: metadata is %d bytes (max 64 KiB)", ErrInvalidTemplate, size)
	}
	return nil
}
