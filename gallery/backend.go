package gallery

import (
	"errors"
	"fmt"
)

// Backend is the gallery as the servers use it: the service layer's adapter
// (server/backend) and the compatibility flavours talk to this interface, so
// that the same server runs on the embedded store (Embedded: FAISS + bbolt in
// this process) or on a cluster (gallery/weaviate). Semantics are those
// documented in doc.go; the contract tests (gallery/gallerytest) hold every
// implementation to them.
//
// Errors are the package's sentinels (errors.Is); ErrUnavailable means the
// store could not be reached or could not acknowledge at its configured
// consistency, and that nothing was acknowledged: the caller may retry.
type Backend interface {
	// Enrol stores one template. With opts.Key set, a retried Enrol with
	// the same partition, subject and key stores nothing new on a backend
	// that derives ids from it (Weaviate); the embedded store ignores Key.
	Enrol(partition, subject string, t Template, opts EnrolOptions) (TemplateInfo, error)
	// EnrolBatch stores templates of one partition; it returns the infos of
	// those stored, in order, up to the first failure (whose error it
	// returns). The cluster sends them in one acknowledged batch.
	EnrolBatch(partition string, items []BatchItem) ([]TemplateInfo, error)
	Search(partition string, probe Template, topK int, minScore float32) ([]Candidate, error)
	Verify(partition, subject string, probe Template) (Candidate, error)
	DeleteTemplate(partition string, id uint64) error
	DeleteSubject(partition, subject string) (int, error)
	RenameSubject(partition, from, to string, merge bool) error
	DeletePartition(name string) error
	// ListPartitions returns the partition names, sorted.
	ListPartitions() ([]string, error)
	Subjects(partition string) ([]string, error)
	HasSubject(partition, subject string) (bool, error)
	Templates(partition, subject string) ([]TemplateInfo, error)
	// TemplateIn returns a template of partition with its vector;
	// ErrTemplateNotFound if id is not in that partition.
	TemplateIn(partition string, id uint64) (TemplateInfo, Template, error)
	// ImageIn returns the image kept with a template of partition.
	ImageIn(partition string, id uint64) ([]byte, TemplateInfo, error)
	// PartitionSetting and SetPartitionSetting keep small named strings
	// with a partition name (the PAD policy): "" when unset; setting ""
	// deletes. They outlive DeletePartition.
	PartitionSetting(partition, key string) (string, error)
	SetPartitionSetting(partition, key, value string) error
	// Counts returns totals and per-partition counts.
	Counts() (Stats, error)
	// Check reports whether the store is usable now; its error names the
	// dependency that is not (for /health).
	Check() error
	// Kind names the backend ("embedded", "weaviate").
	Kind() string
	Close() error
}

// ErrUnavailable: the store is unreachable or below the consistency it must
// acknowledge writes at. Nothing was acknowledged; retry later.
var ErrUnavailable = errors.New("gallery: store unavailable")

// Embedded is the in-process gallery (FAISS + bbolt) as a Backend.
type Embedded struct{ *Gallery }

var _ Backend = Embedded{}

// ListPartitions implements Backend.
func (e Embedded) ListPartitions() ([]string, error) {
	if !e.enter() {
		return nil, ErrClosed
	}
	e.leave()
	return e.Partitions(), nil
}

// TemplateIn implements Backend.
func (e Embedded) TemplateIn(partition string, id uint64) (TemplateInfo, Template, error) {
	info, t, err := e.Template(id)
	if err == nil && info.Partition != partition {
		return TemplateInfo{}, Template{}, templateNotIn(partition, id)
	}
	return info, t, err
}

// ImageIn implements Backend.
func (e Embedded) ImageIn(partition string, id uint64) ([]byte, TemplateInfo, error) {
	img, info, err := e.Image(id)
	if err == nil && info.Partition != partition {
		return nil, TemplateInfo{}, templateNotIn(partition, id)
	}
	if errors.Is(err, ErrImageNotFound) && info.Partition != "" && info.Partition != partition {
		return nil, TemplateInfo{}, templateNotIn(partition, id)
	}
	return img, info, err
}

// Counts implements Backend.
func (e Embedded) Counts() (Stats, error) {
	if !e.enter() {
		return Stats{}, ErrClosed
	}
	e.leave()
	return e.Stats(), nil
}

// Check implements Backend.
func (e Embedded) Check() error {
	if !e.enter() {
		return ErrClosed
	}
	e.leave()
	return nil
}

// Kind implements Backend.
func (Embedded) Kind() string { return "embedded" }

func templateNotIn(partition string, id uint64) error {
	return fmt.Errorf("%w: %d in partition %s", ErrTemplateNotFound, id, partition)
}

// BatchItem is one template of an EnrolBatch.
type BatchItem struct {
	Subject  string
	Template Template
	Options  EnrolOptions
}

// CheckPartition validates a partition name (ErrInvalidName).
func CheckPartition(s string) error { return checkPartition(s) }

// CheckSubject validates a subject id (ErrInvalidName).
func CheckSubject(s string) error { return checkSubject(s) }

// CheckTemplate validates a template (ErrInvalidTemplate): model id, size,
// finite values, unit norm.
func CheckTemplate(t Template) error { return checkTemplate(t) }

// CheckMeta validates template metadata (ErrInvalidTemplate).
func CheckMeta(m map[string]string) error { return checkMeta(m) }

// EnrolBatch implements Backend: one Enrol after another (each is durable
// when it returns; concurrent callers share commits through group commit).
func (e Embedded) EnrolBatch(partition string, items []BatchItem) ([]TemplateInfo, error) {
	out := make([]TemplateInfo, 0, len(items))
	for _, it := range items {
		info, err := e.Enrol(partition, it.Subject, it.Template, it.Options)
		if err != nil {
			return out, err
		}
		out = append(out, info)
	}
	return out, nil
}
