package weaviate

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/filters"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/graphql"
	"github.com/weaviate/weaviate/entities/models"

	"vizor/gallery"
)

// maxResults is Weaviate's default QUERY_MAXIMUM_RESULTS: a search never
// asks for more neighbours than this.
const maxResults = 10000

func strfmtUUID(s string) strfmt.UUID { return strfmt.UUID(s) }

func isErr(err, target error) bool { return errors.Is(err, target) }

func lower(err error) string { return strings.ToLower(err.Error()) }

// put writes objects in one gRPC batch; any object the cluster did not take
// fails the whole call (object ids are deterministic, so the caller's retry
// rewrites the same objects instead of adding others).
func (b *Backend) put(ctx context.Context, objs ...*models.Object) error {
	return b.write(func(cl string) error {
		res, err := b.c.Batch().ObjectsBatcher().WithObjects(objs...).WithConsistencyLevel(cl).Do(ctx)
		if err != nil {
			return err
		}
		for _, r := range res {
			if r.Result != nil && r.Result.Errors != nil && len(r.Result.Errors.Error) > 0 {
				return errors.New(r.Result.Errors.Error[0].Message)
			}
		}
		return nil
	})
}

// write runs a write at ALL replicas first and, when the cluster cannot
// reach them all (a node down), at the configured consistency (QUORUM):
// the acknowledgement is never weaker than configured, and while every
// node is up every replica holds an acknowledged write. That matters
// because Weaviate answers a vector search from one replica per shard
// whatever the read consistency: a QUORUM write could still be missing
// on the replica the next search reads. With one node down, QUORUM
// means every live replica.
func (b *Backend) write(op func(cl string) error) error {
	if b.cfg.Write == "ALL" || !b.cfg.AllFirst {
		return op(b.cfg.Write)
	}
	// Any failure at ALL is settled at the configured level: a replica may
	// also refuse for a moment (a tenant created an instant ago and not
	// yet applied there answers 404), which QUORUM rides over.
	if err := op("ALL"); err == nil {
		return nil
	}
	return op(b.cfg.Write)
}

func (b *Backend) object(partition, subject string, t gallery.Template, opts gallery.EnrolOptions, now time.Time) (*models.Object, gallery.TemplateInfo) {
	key := opts.Key
	if key == "" {
		key = randomKey()
	}
	id := TemplateID(partition, subject, key)
	keep := (opts.KeepImage || b.cfg.KeepImages) && len(opts.Image) > 0
	props := map[string]any{"subject": subject, "tid": gallery.FormatID(id), "model": t.Model,
		"created": now.UnixMicro(), "hasImage": keep}
	if len(opts.Meta) > 0 {
		m, _ := json.Marshal(opts.Meta)
		props["meta"] = string(m)
	}
	if keep {
		props["image"] = base64.StdEncoding.EncodeToString(opts.Image)
	}
	info := gallery.TemplateInfo{ID: id, Partition: partition, Subject: subject, Model: t.Model, Dim: len(t.Vector),
		Created: time.UnixMicro(now.UnixMicro()), Meta: opts.Meta, HasImage: keep}
	return &models.Object{Class: b.tmplClass, ID: strfmtUUID(objectID(partition, id)), Tenant: partition,
		Properties: props, Vector: t.Vector}, info
}

func validEnrol(partition, subject string, t gallery.Template, opts gallery.EnrolOptions) error {
	if err := gallery.CheckPartition(partition); err != nil {
		return err
	}
	if err := gallery.CheckSubject(subject); err != nil {
		return err
	}
	if err := gallery.CheckTemplate(t); err != nil {
		return err
	}
	return gallery.CheckMeta(opts.Meta)
}

// Enrol implements gallery.Backend. It returns once the cluster
// acknowledged the template at the write consistency (QUORUM: 2 of 3
// replicas have it on disk).
func (b *Backend) Enrol(partition, subject string, t gallery.Template, opts gallery.EnrolOptions) (gallery.TemplateInfo, error) {
	infos, err := b.EnrolBatch(partition, []gallery.BatchItem{{Subject: subject, Template: t, Options: opts}})
	if err != nil {
		return gallery.TemplateInfo{}, err
	}
	return infos[0], nil
}

// EnrolBatch implements gallery.Backend: one gRPC batch, all or nothing
// acknowledged (a failed batch may have stored some objects; retried with
// the same keys it stores each once).
func (b *Backend) EnrolBatch(partition string, items []gallery.BatchItem) ([]gallery.TemplateInfo, error) {
	if len(items) == 0 {
		return nil, nil
	}
	for _, it := range items {
		if err := validEnrol(partition, it.Subject, it.Template, it.Options); err != nil {
			return nil, err
		}
	}
	if err := b.ready(); err != nil {
		return nil, err
	}
	r, err := b.partitionFor(partition, items[0].Template)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	objs := make([]*models.Object, len(items))
	infos := make([]gallery.TemplateInfo, len(items))
	for i, it := range items {
		if err := check(r, it.Template); err != nil {
			return nil, err
		}
		// Distinct creation times keep listings in enrolment order.
		objs[i], infos[i] = b.object(partition, it.Subject, it.Template, it.Options, now.Add(time.Duration(i)*time.Microsecond))
	}
	for attempt := 0; ; attempt++ {
		ctx, cancel, err := b.ctx()
		if err != nil {
			return nil, err
		}
		err = b.put(ctx, objs...)
		cancel()
		if err == nil {
			return infos, nil
		}
		// The record exists but the tenant does not (a deletion through
		// another node stopped half-way, or raced us): create it once.
		// Other refusals may be a schema change not yet applied on every
		// node: retry twice (same object ids, so nothing doubles).
		if attempt < 2 && !isNoTenant(lower(err)) && !unavailable(err, lower(err)) {
			time.Sleep(time.Duration(100*(attempt+1)) * time.Millisecond)
			continue
		}
		if attempt < 3 && isNoTenant(lower(err)) {
			b.forget(partition)
			if _, err := b.partitionFor(partition, items[0].Template); err != nil {
				return nil, err
			}
			if err := b.createTenant(partition); err != nil {
				return nil, err
			}
			continue
		}
		return nil, b.wrap(err, "enrol into "+partition)
	}
}

type hit struct {
	subject string
	id      uint64
	model   string
	score   float32
	created int64
	meta    string
	image   bool
	vector  []float32
}

func parseHit(r graphql.SearchResult) hit {
	h := hit{score: -r.Metadata.Distance, vector: r.Vector}
	h.subject, _ = r.Properties["subject"].(string)
	h.model, _ = r.Properties["model"].(string)
	h.meta, _ = r.Properties["meta"].(string)
	h.image, _ = r.Properties["hasImage"].(bool)
	h.created = int64(toInt(r.Properties["created"]))
	if s, ok := r.Properties["tid"].(string); ok {
		h.id, _ = gallery.ParseID(s)
	}
	return h
}

func subjectIs(s string) *filters.WhereBuilder {
	return filters.Where().WithPath([]string{"subject"}).WithOperator(filters.Equal).WithValueText(s)
}

// query runs one gRPC search in a tenant: near probe (nil: none), filtered
// by subject (""), at most limit results.
func (b *Backend) query(tenant string, probe []float32, subject string, limit int, maxDist *float32, props []string, withVec bool) ([]hit, error) {
	ctx, cancel, err := b.ctx()
	if err != nil {
		return nil, err
	}
	defer cancel()
	q := b.c.Experimental().Search().WithCollection(b.tmplClass).WithTenant(tenant).WithLimit(limit).
		WithProperties(props...).WithMetadata(&graphql.Metadata{ID: true, Distance: probe != nil, Vector: withVec}).
		WithConsistencyLevel(searchLevel)
	if probe != nil {
		nv := (&graphql.NearVectorArgumentBuilder{}).WithVector(probe)
		if maxDist != nil {
			nv = nv.WithDistance(*maxDist)
		}
		q = q.WithNearVector(nv)
	}
	if subject != "" {
		q = q.WithWhere(subjectIs(subject))
	}
	res, err := q.Do(ctx)
	if err != nil {
		if isNoTenant(lower(err)) {
			b.forget(tenant)
		}
		return nil, b.wrap(err, "search "+tenant)
	}
	out := make([]hit, len(res))
	for i, r := range res {
		out[i] = parseHit(r)
	}
	return out, nil
}

var searchProps = []string{"subject", "tid", "model"}

// searchLevel is the consistency of searches and filtered listings. A
// Weaviate search reads one replica per shard whatever the level; a
// higher level only adds a read-repair round trip over the results it
// found (it cannot find what that replica lacks). Visibility comes from
// the writes (ALL first), so searches ask for ONE and save the trip.
const searchLevel = "ONE"

func (b *Backend) probeCheck(partition string, probe gallery.Template) (partRec, error) {
	if err := gallery.CheckPartition(partition); err != nil {
		return partRec{}, err
	}
	if err := b.ready(); err != nil {
		return partRec{}, err
	}
	r, err := b.partition(partition, true)
	if err != nil {
		return partRec{}, err
	}
	return r, check(r, probe)
}

// modelsAgree catches a stale cached record: every result must be of the
// probe's model.
func modelsAgree(partition string, hits []hit, model string) error {
	for _, h := range hits {
		if h.model != model {
			return fmt.Errorf("%w: partition %q holds model %q, template is from %q", gallery.ErrModelMismatch, partition, h.model, model)
		}
	}
	return nil
}

// Search implements gallery.Backend: nearest templates by inner product
// (distance "dot" is its negation), distinct subjects by their best
// template, widening the request until topK subjects are found, the
// scores fall below minScore or the partition is exhausted.
func (b *Backend) Search(partition string, probe gallery.Template, topK int, minScore float32) ([]gallery.Candidate, error) {
	if topK <= 0 {
		return nil, fmt.Errorf("gallery: topK %d must be positive", topK)
	}
	if _, err := b.probeCheck(partition, probe); err != nil {
		return nil, err
	}
	var maxDist *float32
	if minScore > -1 {
		d := -minScore
		maxDist = &d
	}
	limit := min(topK*4+8, maxResults)
	for {
		hits, err := b.query(partition, probe.Vector, "", limit, maxDist, searchProps, false)
		if err != nil {
			return nil, err
		}
		if err := modelsAgree(partition, hits, probe.Model); err != nil {
			return nil, err
		}
		out := make([]gallery.Candidate, 0, topK)
		seen := map[string]bool{}
		for _, h := range hits {
			if seen[h.subject] || h.score < minScore {
				continue
			}
			seen[h.subject] = true
			out = append(out, gallery.Candidate{Subject: h.subject, Score: h.score, TemplateID: h.id})
			if len(out) == topK {
				break
			}
		}
		if len(out) == topK || len(hits) < limit || limit >= maxResults {
			slices.SortStableFunc(out, func(a, c gallery.Candidate) int {
				switch {
				case a.Score > c.Score:
					return -1
				case a.Score < c.Score:
					return 1
				}
				return 0
			})
			return out, nil
		}
		limit = min(limit*4, maxResults)
	}
}

// Verify implements gallery.Backend: the best score over the subject's
// templates. The subject filter leaves few candidates, which Weaviate
// scores exhaustively (below its flat-search cut-off): the score is exact.
func (b *Backend) Verify(partition, subject string, probe gallery.Template) (gallery.Candidate, error) {
	if err := gallery.CheckSubject(subject); err != nil {
		return gallery.Candidate{}, err
	}
	if _, err := b.probeCheck(partition, probe); err != nil {
		return gallery.Candidate{}, err
	}
	hits, err := b.query(partition, probe.Vector, subject, 1, nil, searchProps, false)
	if err != nil {
		return gallery.Candidate{}, err
	}
	if len(hits) == 0 {
		return gallery.Candidate{}, fmt.Errorf("%w: %q in %q", gallery.ErrSubjectNotFound, subject, partition)
	}
	if err := modelsAgree(partition, hits, probe.Model); err != nil {
		return gallery.Candidate{}, err
	}
	return gallery.Candidate{Subject: subject, Score: hits[0].score, TemplateID: hits[0].id}, nil
}
