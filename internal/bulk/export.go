package bulk

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"time"

	"vizor/gallery"
)

// Record is one line of `vizor export`: one template with its subject.
type Record struct {
	Partition  string            `json:"partition"`
	Subject    string            `json:"subject"`
	TemplateID string            `json:"template_id"`
	Model      string            `json:"model"`
	Dim        int               `json:"dim"`
	Created    time.Time         `json:"created"`
	Meta       map[string]string `json:"meta,omitempty"`
	Template   []float32         `json:"template"`
	Image      string            `json:"image,omitempty"` // base64, only with images on and an image kept
}

// ExportOptions choose what Export writes.
type ExportOptions struct {
	Partitions []string // empty: every partition
	Images     bool     // add kept images (keep_images) as base64
}

// Export writes every template of the chosen partitions of g as JSON lines,
// by partition, subject and template id, and returns how many it wrote.
func Export(g *gallery.Gallery, w io.Writer, o ExportOptions) (int, error) {
	parts := o.Partitions
	if len(parts) == 0 {
		parts = g.Partitions()
	}
	sort.Strings(parts)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	n := 0
	for _, p := range parts {
		subjects, err := g.Subjects(p)
		if err != nil {
			return n, err
		}
		sort.Strings(subjects)
		for _, s := range subjects {
			infos, err := g.Templates(p, s)
			if err != nil {
				return n, err
			}
			sort.Slice(infos, func(i, j int) bool { return infos[i].ID < infos[j].ID })
			for _, info := range infos {
				_, t, err := g.Template(info.ID)
				if err != nil {
					return n, err
				}
				r := Record{Partition: p, Subject: s, TemplateID: info.IDString(), Model: t.Model, Dim: len(t.Vector),
					Created: info.Created.UTC(), Meta: info.Meta, Template: t.Vector}
				if o.Images && info.HasImage {
					img, _, err := g.Image(info.ID)
					if err != nil && !errors.Is(err, gallery.ErrImageNotFound) {
						return n, err
					}
					if img != nil {
						r.Image = base64.StdEncoding.EncodeToString(img)
					}
				}
				if err := enc.Encode(r); err != nil {
					return n, err
				}
				n++
			}
		}
	}
	return n, bw.Flush()
}
