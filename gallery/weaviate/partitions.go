package weaviate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/weaviate/weaviate-go-client/v5/weaviate/graphql"
	"github.com/weaviate/weaviate/entities/models"

	"vizor/gallery"
)

type partRec struct {
	Name  string
	Model string
	Dim   int
}

func (b *Backend) cached(name string) (partRec, bool) {
	b.cacheMu.Lock()
	defer b.cacheMu.Unlock()
	c, ok := b.cache[name]
	if !ok || time.Since(c.when) > b.cfg.PartitionCache {
		return partRec{}, false
	}
	return c.rec, true
}

func (b *Backend) remember(r partRec) {
	b.cacheMu.Lock()
	b.cache[r.Name] = cachedPart{rec: r, when: time.Now()}
	b.cacheMu.Unlock()
}

func (b *Backend) forget(name string) {
	b.cacheMu.Lock()
	delete(b.cache, name)
	b.cacheMu.Unlock()
}

// partition returns the partition's record: from the cache when allowed
// (searches), else read. Searches read it at ONE from the node Vizor talks
// to: record writes and deletes go to ALL replicas first (QUORUM, i.e.
// every live one, with a node down), like templates. Enrolments and
// deletions read it at the read consistency (QUORUM).
func (b *Backend) partition(name string, cacheOK bool) (partRec, error) {
	level := b.cfg.Read
	if cacheOK {
		level = searchLevel
	}
	if cacheOK {
		if r, ok := b.cached(name); ok {
			return r, nil
		}
	}
	if err := b.ready(); err != nil {
		return partRec{}, err
	}
	ctx, cancel, err := b.ctx()
	if err != nil {
		return partRec{}, err
	}
	defer cancel()
	objs, err := b.c.Data().ObjectsGetter().WithClassName(b.partClass).WithID(partitionObjectID(name)).
		WithConsistencyLevel(level).Do(ctx)
	if statusCode(err) == 404 || err == nil && len(objs) == 0 {
		b.forget(name)
		return partRec{}, fmt.Errorf("%w: %q", gallery.ErrPartitionNotFound, name)
	}
	if err != nil {
		return partRec{}, b.wrap(err, "read partition "+name)
	}
	r := partRec{Name: name}
	props, _ := objs[0].Properties.(map[string]any)
	r.Model, _ = props["model"].(string)
	r.Dim = toInt(props["dim"])
	if r.Model == "" || r.Dim <= 0 {
		return partRec{}, fmt.Errorf("weaviate: partition %q record has no model or dimension", name)
	}
	b.remember(r)
	return r, nil
}

func toInt(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case int64:
		return int(x)
	case int:
		return x
	case json.Number:
		n, _ := x.Int64()
		return int(n)
	case string:
		n, _ := strconv.Atoi(x)
		return n
	}
	return 0
}

func check(r partRec, t gallery.Template) error {
	if t.Model != r.Model {
		return fmt.Errorf("%w: partition %q holds model %q, template is from %q", gallery.ErrModelMismatch, r.Name, r.Model, t.Model)
	}
	if len(t.Vector) != r.Dim {
		return fmt.Errorf("%w: partition %q holds %d-d templates, got %d-d", gallery.ErrDimMismatch, r.Name, r.Dim, len(t.Vector))
	}
	return nil
}

// partitionFor returns the partition t is enrolled into, creating it (its
// tenant, then its record) when missing. The record is read afresh: a
// partition dropped and re-created through another node takes its new
// model at once.
func (b *Backend) partitionFor(name string, t gallery.Template) (partRec, error) {
	r, err := b.partition(name, false)
	if err == nil {
		return r, check(r, t)
	}
	if !isErr(err, gallery.ErrPartitionNotFound) {
		return partRec{}, err
	}
	if err := b.createTenant(name); err != nil {
		return partRec{}, err
	}
	r = partRec{Name: name, Model: t.Model, Dim: len(t.Vector)}
	ctx, cancel, err := b.ctx()
	if err != nil {
		return partRec{}, err
	}
	defer cancel()
	obj := &models.Object{Class: b.partClass, ID: strfmtUUID(partitionObjectID(name)),
		Properties: map[string]any{"name": name, "model": r.Model, "dim": r.Dim}}
	if err := b.put(ctx, obj); err != nil {
		return partRec{}, b.wrap(err, "create partition "+name)
	}
	b.remember(r)
	return r, nil
}

func (b *Backend) createTenant(name string) error {
	ctx, cancel, err := b.ctx()
	if err != nil {
		return err
	}
	defer cancel()
	err = b.c.Schema().TenantsCreator().WithClassName(b.tmplClass).WithTenants(models.Tenant{Name: name}).Do(ctx)
	if err != nil && !isAlreadyExists(err) {
		return b.wrap(err, "create tenant "+name)
	}
	return nil
}

func (b *Backend) tenants() (map[string]bool, error) {
	ctx, cancel, err := b.ctx()
	if err != nil {
		return nil, err
	}
	defer cancel()
	ts, err := b.c.Schema().TenantsGetter().WithClassName(b.tmplClass).Do(ctx)
	if err != nil {
		return nil, b.wrap(err, "list tenants")
	}
	out := make(map[string]bool, len(ts))
	for _, t := range ts {
		out[t.Name] = true
	}
	return out, nil
}

// records lists every partition record (cursor over the collection).
func (b *Backend) records() ([]partRec, error) {
	if err := b.ready(); err != nil {
		return nil, err
	}
	var out []partRec
	after := ""
	for {
		ctx, cancel, err := b.ctx()
		if err != nil {
			return nil, err
		}
		q := b.c.Data().ObjectsGetter().WithClassName(b.partClass).WithLimit(1000)
		if after != "" {
			q = q.WithAfter(after)
		}
		objs, err := q.Do(ctx)
		cancel()
		if err != nil {
			return nil, b.wrap(err, "list partitions")
		}
		for _, o := range objs {
			props, _ := o.Properties.(map[string]any)
			name, _ := props["name"].(string)
			model, _ := props["model"].(string)
			out = append(out, partRec{Name: name, Model: model, Dim: toInt(props["dim"])})
		}
		if len(objs) < 1000 {
			return out, nil
		}
		after = string(objs[len(objs)-1].ID)
	}
}

// livePartitions are the records whose tenant exists: a partition whose
// deletion stopped half-way (tenant gone, record left) is not listed.
func (b *Backend) livePartitions() ([]partRec, error) {
	recs, err := b.records()
	if err != nil {
		return nil, err
	}
	ts, err := b.tenants()
	if err != nil {
		return nil, err
	}
	recs = slices.DeleteFunc(recs, func(r partRec) bool { return !ts[r.Name] })
	slices.SortFunc(recs, func(a, c partRec) int {
		if a.Name < c.Name {
			return -1
		}
		if a.Name > c.Name {
			return 1
		}
		return 0
	})
	return recs, nil
}

// ListPartitions implements gallery.Backend.
func (b *Backend) ListPartitions() ([]string, error) {
	recs, err := b.livePartitions()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Name
	}
	return out, nil
}

// DeletePartition implements gallery.Backend: the tenant goes first
// (through Raft: every node drops it), then the record.
func (b *Backend) DeletePartition(name string) error {
	if err := gallery.CheckPartition(name); err != nil {
		return err
	}
	if _, err := b.partition(name, false); err != nil {
		return err
	}
	b.forget(name)
	ctx, cancel, err := b.ctx()
	if err != nil {
		return err
	}
	defer cancel()
	if err := b.c.Schema().TenantsDeleter().WithClassName(b.tmplClass).WithTenants(name).Do(ctx); err != nil && !isNoTenant(lower(err)) {
		return b.wrap(err, "delete tenant "+name)
	}
	err = b.write(func(cl string) error {
		return b.c.Data().Deleter().WithClassName(b.partClass).WithID(partitionObjectID(name)).WithConsistencyLevel(cl).Do(ctx)
	})
	if err != nil && statusCode(err) != 404 {
		return b.wrap(err, "delete partition record "+name)
	}
	b.forget(name)
	return nil
}

// Counts implements gallery.Backend. Subjects are counted by listing them
// (a cursor over the partition): cheap at the sizes /stats is asked about,
// O(templates) in general.
func (b *Backend) Counts() (gallery.Stats, error) {
	recs, err := b.livePartitions()
	if err != nil {
		return gallery.Stats{}, err
	}
	st := gallery.Stats{Partitions: len(recs)}
	for _, r := range recs {
		n, err := b.count(r.Name)
		if err != nil {
			return gallery.Stats{}, err
		}
		subs, err := b.Subjects(r.Name)
		if err != nil {
			return gallery.Stats{}, err
		}
		spec := b.cfg.Index
		st.PerPartition = append(st.PerPartition, gallery.PartitionStats{Name: r.Name, Model: r.Model, Dim: r.Dim,
			Subjects: len(subs), Templates: n, IndexSpec: spec, ActiveIndex: spec, Indexed: n})
		st.Subjects += len(subs)
		st.Templates += n
	}
	return st, nil
}

// TemplateCount is the number of templates in the cluster (the metrics
// gauge): one aggregate per partition, no listing.
func (b *Backend) TemplateCount() (int, error) {
	recs, err := b.livePartitions()
	if err != nil {
		return 0, err
	}
	total := 0
	for _, r := range recs {
		n, err := b.count(r.Name)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

func (b *Backend) count(tenant string) (int, error) {
	ctx, cancel, err := b.ctx()
	if err != nil {
		return 0, err
	}
	defer cancel()
	resp, err := b.c.GraphQL().Aggregate().WithClassName(b.tmplClass).WithTenant(tenant).
		WithFields(graphql.Field{Name: "meta", Fields: []graphql.Field{{Name: "count"}}}).Do(ctx)
	if err != nil {
		return 0, b.wrap(err, "count "+tenant)
	}
	if len(resp.Errors) > 0 {
		return 0, b.wrap(fmt.Errorf("%s", resp.Errors[0].Message), "count "+tenant)
	}
	agg, _ := resp.Data["Aggregate"].(map[string]any)
	rows, _ := agg[b.tmplClass].([]any)
	if len(rows) == 0 {
		return 0, nil
	}
	row, _ := rows[0].(map[string]any)
	meta, _ := row["meta"].(map[string]any)
	return toInt(meta["count"]), nil
}

// PartitionSetting implements gallery.Backend.
func (b *Backend) PartitionSetting(partition, key string) (string, error) {
	if err := gallery.CheckPartition(partition); err != nil {
		return "", err
	}
	return b.getSetting("partition:"+partition, key)
}

// SetPartitionSetting implements gallery.Backend.
func (b *Backend) SetPartitionSetting(partition, key, value string) error {
	if err := gallery.CheckPartition(partition); err != nil {
		return err
	}
	if key == "" || len(key) > 64 || len(value) > 1024 {
		return fmt.Errorf("%w: setting %q (key 1-64 bytes, value at most 1024)", gallery.ErrInvalidName, key)
	}
	return b.setSetting("partition:"+partition, key, value)
}

// State reads a key of the compatibility flavours' state ("" when unset).
func (b *Backend) State(scope, key string) (string, error) { return b.getSetting("state:"+scope, key) }

// SetState writes a key of the compatibility flavours' state at the write
// consistency; "" deletes it.
func (b *Backend) SetState(scope, key, value string) error {
	return b.setSetting("state:"+scope, key, value)
}

func (b *Backend) getSetting(scope, key string) (string, error) {
	if err := b.ready(); err != nil {
		return "", err
	}
	ctx, cancel, err := b.ctx()
	if err != nil {
		return "", err
	}
	defer cancel()
	objs, err := b.c.Data().ObjectsGetter().WithClassName(b.setClass).WithID(settingObjectID(scope, key)).
		WithConsistencyLevel(b.cfg.Read).Do(ctx)
	if statusCode(err) == 404 || err == nil && len(objs) == 0 {
		return "", nil
	}
	if err != nil {
		return "", b.wrap(err, "read setting")
	}
	props, _ := objs[0].Properties.(map[string]any)
	v, _ := props["value"].(string)
	return v, nil
}

func (b *Backend) setSetting(scope, key, value string) error {
	if err := b.ready(); err != nil {
		return err
	}
	ctx, cancel, err := b.ctx()
	if err != nil {
		return err
	}
	defer cancel()
	id := settingObjectID(scope, key)
	if value == "" {
		err := b.c.Data().Deleter().WithClassName(b.setClass).WithID(id).WithConsistencyLevel(b.cfg.Write).Do(ctx)
		if err != nil && statusCode(err) != 404 {
			return b.wrap(err, "delete setting")
		}
		return nil
	}
	obj := &models.Object{Class: b.setClass, ID: strfmtUUID(id), Properties: map[string]any{"scope": scope, "key": key, "value": value}}
	return b.wrap(b.put(ctx, obj), "write setting")
}
