package weaviate

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/weaviate/weaviate/entities/models"

	"vizor/gallery"
)

var listProps = []string{"subject", "tid", "model", "created", "meta", "hasImage"}

func (h hit) info(partition string, dim int) gallery.TemplateInfo {
	ti := gallery.TemplateInfo{ID: h.id, Partition: partition, Subject: h.subject, Model: h.model, Dim: dim,
		Created: time.UnixMicro(h.created), HasImage: h.image}
	if h.meta != "" {
		_ = json.Unmarshal([]byte(h.meta), &ti.Meta)
	}
	return ti
}

// scan visits every template of a partition (a cursor in id order).
func (b *Backend) scan(partition string, props []string, fn func(h hit)) error {
	after := ""
	const page = 1000
	for {
		ctx, cancel, err := b.ctx()
		if err != nil {
			return err
		}
		q := b.c.Experimental().Search().WithCollection(b.tmplClass).WithTenant(partition).WithLimit(page).
			WithProperties(props...).WithMetadata(&b.idOnly).WithConsistencyLevel(searchLevel)
		if after != "" {
			q = q.WithAfter(after)
		}
		res, err := q.Do(ctx)
		cancel()
		if err != nil {
			if isNoTenant(lower(err)) {
				b.forget(partition)
			}
			return b.wrap(err, "list "+partition)
		}
		for _, r := range res {
			fn(parseHit(r))
		}
		if len(res) < page {
			return nil
		}
		after = res[len(res)-1].ID
	}
}

func (b *Backend) dim(partition string) (int, error) {
	r, err := b.partition(partition, true)
	return r.Dim, err
}

// Subjects implements gallery.Backend (sorted).
func (b *Backend) Subjects(partition string) ([]string, error) {
	if err := gallery.CheckPartition(partition); err != nil {
		return nil, err
	}
	if err := b.ready(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	if err := b.scan(partition, []string{"subject"}, func(h hit) { seen[h.subject] = true }); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}

// HasSubject implements gallery.Backend.
func (b *Backend) HasSubject(partition, subject string) (bool, error) {
	if err := gallery.CheckPartition(partition); err != nil {
		return false, err
	}
	if !gallery.ValidSubjectName(subject) {
		return false, nil
	}
	if err := b.ready(); err != nil {
		return false, err
	}
	hits, err := b.query(partition, nil, subject, 1, nil, []string{"subject"}, false)
	return len(hits) > 0, err
}

func byCreation(a, c gallery.TemplateInfo) int {
	switch {
	case a.Created.Before(c.Created):
		return -1
	case a.Created.After(c.Created):
		return 1
	case a.ID < c.ID:
		return -1
	case a.ID > c.ID:
		return 1
	}
	return 0
}

// Templates implements gallery.Backend: in enrolment order (creation time,
// then id); subject "" lists the whole partition.
func (b *Backend) Templates(partition, subject string) ([]gallery.TemplateInfo, error) {
	if err := gallery.CheckPartition(partition); err != nil {
		return nil, err
	}
	if err := b.ready(); err != nil {
		return nil, err
	}
	dim, err := b.dim(partition)
	if err != nil {
		return nil, err
	}
	var out []gallery.TemplateInfo
	if subject == "" {
		err = b.scan(partition, listProps, func(h hit) { out = append(out, h.info(partition, dim)) })
	} else {
		var hits []hit
		hits, err = b.query(partition, nil, subject, maxResults, nil, listProps, false)
		for _, h := range hits {
			out = append(out, h.info(partition, dim))
		}
		if err == nil && len(out) == 0 {
			err = fmt.Errorf("%w: %q in %q", gallery.ErrSubjectNotFound, subject, partition)
		}
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, byCreation)
	return out, nil
}

func (b *Backend) getObject(partition string, id uint64, withVector bool) (*models.Object, error) {
	if err := gallery.CheckPartition(partition); err != nil {
		return nil, err
	}
	if err := b.ready(); err != nil {
		return nil, err
	}
	ctx, cancel, err := b.ctx()
	if err != nil {
		return nil, err
	}
	defer cancel()
	q := b.c.Data().ObjectsGetter().WithClassName(b.tmplClass).WithID(objectID(partition, id)).WithTenant(partition).
		WithConsistencyLevel(b.cfg.Read)
	if withVector {
		q = q.WithVector()
	}
	objs, err := q.Do(ctx)
	if statusCode(err) == 404 || err == nil && len(objs) == 0 {
		return nil, fmt.Errorf("%w: %d in partition %s", gallery.ErrTemplateNotFound, id, partition)
	}
	if err != nil {
		if isNoTenant(lower(err)) {
			return nil, fmt.Errorf("%w: %d in partition %s", gallery.ErrTemplateNotFound, id, partition)
		}
		return nil, b.wrap(err, "read template")
	}
	return objs[0], nil
}

func objInfo(o *models.Object, partition string, id uint64) gallery.TemplateInfo {
	props, _ := o.Properties.(map[string]any)
	h := hit{id: id}
	h.subject, _ = props["subject"].(string)
	h.model, _ = props["model"].(string)
	h.meta, _ = props["meta"].(string)
	h.image, _ = props["hasImage"].(bool)
	h.created = int64(toInt(props["created"]))
	return h.info(partition, len(o.Vector))
}

// TemplateIn implements gallery.Backend.
func (b *Backend) TemplateIn(partition string, id uint64) (gallery.TemplateInfo, gallery.Template, error) {
	o, err := b.getObject(partition, id, true)
	if err != nil {
		return gallery.TemplateInfo{}, gallery.Template{}, err
	}
	info := objInfo(o, partition, id)
	return info, gallery.Template{Model: info.Model, Vector: []float32(o.Vector)}, nil
}

// ImageIn implements gallery.Backend.
func (b *Backend) ImageIn(partition string, id uint64) ([]byte, gallery.TemplateInfo, error) {
	o, err := b.getObject(partition, id, true)
	if err != nil {
		return nil, gallery.TemplateInfo{}, err
	}
	info := objInfo(o, partition, id)
	props, _ := o.Properties.(map[string]any)
	s, _ := props["image"].(string)
	if !info.HasImage || s == "" {
		return nil, info, fmt.Errorf("%w: %d", gallery.ErrImageNotFound, id)
	}
	img, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, info, fmt.Errorf("weaviate: image of template %d: %v", id, err)
	}
	return img, info, nil
}

// DeleteTemplate implements gallery.Backend.
func (b *Backend) DeleteTemplate(partition string, id uint64) error {
	if _, err := b.getObject(partition, id, false); err != nil {
		return err
	}
	ctx, cancel, err := b.ctx()
	if err != nil {
		return err
	}
	defer cancel()
	err = b.write(func(cl string) error {
		return b.c.Data().Deleter().WithClassName(b.tmplClass).WithID(objectID(partition, id)).WithTenant(partition).
			WithConsistencyLevel(cl).Do(ctx)
	})
	if statusCode(err) == 404 {
		return fmt.Errorf("%w: %d in partition %s", gallery.ErrTemplateNotFound, id, partition)
	}
	return b.wrap(err, "delete template")
}

// DeleteSubject implements gallery.Backend: one batch delete by subject,
// acknowledged at the write consistency.
func (b *Backend) DeleteSubject(partition, subject string) (int, error) {
	if err := gallery.CheckPartition(partition); err != nil {
		return 0, err
	}
	if err := gallery.CheckSubject(subject); err != nil {
		return 0, err
	}
	if err := b.ready(); err != nil {
		return 0, err
	}
	ctx, cancel, err := b.ctx()
	if err != nil {
		return 0, err
	}
	defer cancel()
	var res *models.BatchDeleteResponse
	err = b.write(func(cl string) error {
		var err error
		res, err = b.c.Batch().ObjectsBatchDeleter().WithClassName(b.tmplClass).WithTenant(partition).
			WithWhere(subjectIs(subject)).WithOutput("minimal").WithConsistencyLevel(cl).Do(ctx)
		if err == nil && res.Results != nil && res.Results.Failed > 0 && cl == "ALL" {
			return fmt.Errorf("%d of %d templates not deleted on every replica", res.Results.Failed, res.Results.Matches)
		}
		return err
	})
	if err != nil {
		if isNoTenant(lower(err)) {
			b.forget(partition)
		}
		return 0, b.wrap(err, "delete subject")
	}
	if res.Results == nil || res.Results.Matches == 0 {
		return 0, fmt.Errorf("%w: %q in %q", gallery.ErrSubjectNotFound, subject, partition)
	}
	if res.Results.Failed > 0 {
		return int(res.Results.Successful), fmt.Errorf("%w: deleted %d of %d templates of %q", gallery.ErrUnavailable,
			res.Results.Successful, res.Results.Matches, subject)
	}
	return int(res.Results.Successful), nil
}

// RenameSubject implements gallery.Backend: the templates are copied under
// the new name (ids derived from the old ids, so a retried rename writes
// the same copies), then the old ones are deleted. Not atomic: a failure
// in between leaves both names, and the rename can be run again.
func (b *Backend) RenameSubject(partition, from, to string, merge bool) error {
	if err := gallery.CheckPartition(partition); err != nil {
		return err
	}
	if err := gallery.CheckSubject(from); err != nil {
		return err
	}
	if err := gallery.CheckSubject(to); err != nil {
		return err
	}
	infos, err := b.Templates(partition, from)
	if err != nil {
		return err
	}
	if from == to {
		return nil
	}
	if has, err := b.HasSubject(partition, to); err != nil {
		return err
	} else if has && !merge {
		return fmt.Errorf("%w: %q in %q", gallery.ErrSubjectExists, to, partition)
	}
	objs := make([]*models.Object, 0, len(infos))
	for _, ti := range infos {
		o, err := b.getObject(partition, ti.ID, true)
		if err != nil {
			return err
		}
		props, _ := o.Properties.(map[string]any)
		id := TemplateID(partition, to, "rename:"+gallery.FormatID(ti.ID))
		props["subject"], props["tid"] = to, gallery.FormatID(id)
		objs = append(objs, &models.Object{Class: b.tmplClass, ID: strfmtUUID(objectID(partition, id)), Tenant: partition,
			Properties: props, Vector: o.Vector})
	}
	ctx, cancel, err := b.ctx()
	if err != nil {
		return err
	}
	err = b.put(ctx, objs...)
	cancel()
	if err != nil {
		return b.wrap(err, "rename: copy")
	}
	_, err = b.DeleteSubject(partition, from)
	return err
}
