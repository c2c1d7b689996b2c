package backend

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"

	"vizor/gallery"
	"vizor/gallery/reqkey"
	"vizor/server/service"
)

// Gallery adapts a gallery.Backend (the embedded store or a cluster) to the
// service layer.
type Gallery struct {
	G      gallery.Backend
	closed atomic.Bool
}

// NewGallery adapts g.
func NewGallery(g gallery.Backend) *Gallery { return &Gallery{G: g} }

func tmpl(t service.Template) gallery.Template {
	return gallery.Template{Model: t.ModelID, Vector: t.Vector}
}

// Enrol implements service.Gallery.
func (g *Gallery) Enrol(ctx context.Context, partition, subject string, t service.Template, image []byte) (string, error) {
	info, err := g.G.Enrol(partition, subject, tmpl(t), gallery.EnrolOptions{Image: image, Key: reqkey.Next(ctx)})
	if err != nil {
		return "", mapGalleryErr(err)
	}
	return info.IDString(), nil
}

// Search implements service.Gallery.
func (g *Gallery) Search(_ context.Context, partition string, probe service.Template, topK int, minScore float32) ([]service.Candidate, error) {
	cs, err := g.G.Search(partition, tmpl(probe), topK, minScore)
	if err != nil {
		return nil, mapGalleryErr(err)
	}
	out := make([]service.Candidate, len(cs))
	for i, c := range cs {
		out[i] = service.Candidate{Subject: c.Subject, Score: c.Score, TemplateID: gallery.FormatID(c.TemplateID)}
	}
	return out, nil
}

// Verify implements service.Gallery.
func (g *Gallery) Verify(_ context.Context, partition, subject string, probe service.Template) (service.Candidate, error) {
	c, err := g.G.Verify(partition, subject, tmpl(probe))
	if err != nil {
		return service.Candidate{}, mapGalleryErr(err)
	}
	return service.Candidate{Subject: c.Subject, Score: c.Score, TemplateID: gallery.FormatID(c.TemplateID)}, nil
}

// DeleteSubject implements service.Gallery.
func (g *Gallery) DeleteSubject(_ context.Context, partition, subject string) (int, error) {
	n, err := g.G.DeleteSubject(partition, subject)
	if err != nil {
		return 0, mapGalleryErr(err)
	}
	return n, nil
}

// Partitions implements service.Gallery.
func (g *Gallery) Partitions(context.Context) ([]string, error) {
	if g.closed.Load() {
		return nil, &service.Error{Kind: service.ErrUnavailable, Msg: "gallery closed"}
	}
	names, err := g.G.ListPartitions()
	if err != nil {
		return nil, mapGalleryErr(err)
	}
	return names, nil
}

// Stats implements service.Gallery.
func (g *Gallery) Stats(context.Context) (service.GalleryStats, error) {
	if g.closed.Load() {
		return service.GalleryStats{}, &service.Error{Kind: service.ErrUnavailable, Msg: "gallery closed"}
	}
	st, err := g.G.Counts()
	if err != nil {
		return service.GalleryStats{}, mapGalleryErr(err)
	}
	out := service.GalleryStats{Subjects: st.Subjects, Templates: st.Templates, Partitions: map[string]service.PartitionStats{}}
	for _, p := range st.PerPartition {
		out.Partitions[p.Name] = service.PartitionStats{Subjects: p.Subjects, Templates: p.Templates}
	}
	return out, nil
}

// Close syncs and closes the store.
func (g *Gallery) Close() error {
	if g.closed.Swap(true) {
		return nil
	}
	return g.G.Close()
}

func mapGalleryErr(err error) error {
	switch {
	case errors.Is(err, gallery.ErrPartitionNotFound):
		return &service.Error{Kind: service.ErrPartitionNotFound, Msg: detail(err, gallery.ErrPartitionNotFound), Cause: err}
	case errors.Is(err, gallery.ErrSubjectNotFound):
		return &service.Error{Kind: service.ErrSubjectNotFound, Msg: detail(err, gallery.ErrSubjectNotFound), Cause: err}
	case errors.Is(err, gallery.ErrModelMismatch), errors.Is(err, gallery.ErrDimMismatch):
		return &service.Error{Kind: service.ErrModelMismatch, Msg: strings.TrimPrefix(err.Error(), "gallery: "), Cause: err}
	case errors.Is(err, gallery.ErrInvalidName):
		return &service.Error{Kind: service.ErrInvalid, Msg: detail(err, gallery.ErrInvalidName), Cause: err}
	case errors.Is(err, gallery.ErrClosed):
		return &service.Error{Kind: service.ErrUnavailable, Msg: "gallery closed", Cause: err}
	case errors.Is(err, gallery.ErrUnavailable):
		// The cluster is unreachable or below the write consistency:
		// nothing was acknowledged, the client retries (503 + Retry-After).
		return &service.Error{Kind: service.ErrUnavailable, Msg: "gallery unavailable: " + detail(err, gallery.ErrUnavailable), Cause: err}
	}
	return &service.Error{Kind: service.ErrInternal, Msg: "gallery failure", Cause: err}
}

// detail is err's message without the sentinel's text.
func detail(err, sentinel error) string {
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), sentinel.Error()), ": ")
}

// Check implements service.GalleryChecker.
func (g *Gallery) Check(context.Context) error {
	if g.closed.Load() {
		return &service.Error{Kind: service.ErrUnavailable, Msg: "gallery closed"}
	}
	if err := g.G.Check(); err != nil {
		return mapGalleryErr(err)
	}
	return nil
}

// Kind implements service.GalleryChecker.
func (g *Gallery) Kind() string { return g.G.Kind() }
