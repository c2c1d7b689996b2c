package weaviate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	client "github.com/weaviate/weaviate-go-client/v5/weaviate"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/graphql"
	wgrpc "github.com/weaviate/weaviate-go-client/v5/weaviate/grpc"
	"github.com/weaviate/weaviate/entities/models"

	"vizor/gallery"
)

// Backend is a gallery.Backend on a Weaviate cluster.
//
// Mapping (gallery/README.md says why, with the measurements):
//   - <Prefix>Template: one multi-tenant collection; a partition is a
//     tenant (its own shard and vector index, created and dropped whole
//     through Raft); a template is an object whose id derives from
//     (partition, template id) and whose vector is the template.
//   - <Prefix>Partition: one object per partition (model id, dimension).
//   - <Prefix>Setting: per-partition settings (the PAD policy) and the
//     compatibility flavours' state, small key/value objects.
//
// Every collection has replication factor Config.Replicas with async
// replication on (a node that was down catches up in the background, and
// deletes win conflicts, so a repair never resurrects a deleted subject).
type Backend struct {
	cfg Config
	c   *client.Client

	tmplClass, partClass, setClass string

	schemaMu sync.Mutex
	schemaOK bool

	cacheMu sync.Mutex
	cache   map[string]cachedPart

	closed chan struct{}
	once   sync.Once

	idOnly graphql.Metadata
}

var _ gallery.Backend = (*Backend)(nil)

type cachedPart struct {
	rec  partRec
	when time.Time
}

// Open connects to the cluster and creates the collections if missing. A
// cluster that cannot be reached yet is not an error: every call retries
// the set-up and answers gallery.ErrUnavailable until it succeeds.
func Open(cfg Config) (*Backend, error) {
	cfg.defaults()
	c, err := client.NewClient(client.Config{
		Host:       cfg.Host,
		Scheme:     "http",
		GrpcConfig: &wgrpc.Config{Host: cfg.GRPCHost},
		Timeout:    cfg.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: weaviate at %s: %v", gallery.ErrUnavailable, cfg.Host, err)
	}
	b := &Backend{cfg: cfg, c: c, tmplClass: cfg.Prefix + "Template", partClass: cfg.Prefix + "Partition",
		setClass: cfg.Prefix + "Setting", cache: map[string]cachedPart{}, closed: make(chan struct{}),
		idOnly: graphql.Metadata{ID: true}}
	_ = b.ready()
	return b, nil
}

// Kind implements gallery.Backend.
func (b *Backend) Kind() string { return "weaviate" }

// Config returns the settings in force.
func (b *Backend) Config() Config { return b.cfg }

// Close implements gallery.Backend. The cluster keeps everything.
func (b *Backend) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

func (b *Backend) ctx() (context.Context, context.CancelFunc, error) {
	select {
	case <-b.closed:
		return nil, nil, gallery.ErrClosed
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
	return ctx, cancel, nil
}

// ready makes sure the collections exist (once per process).
func (b *Backend) ready() error {
	b.schemaMu.Lock()
	defer b.schemaMu.Unlock()
	if b.schemaOK {
		return nil
	}
	ctx, cancel, err := b.ctx()
	if err != nil {
		return err
	}
	defer cancel()
	for _, cls := range b.classes() {
		ok, err := b.c.Schema().ClassExistenceChecker().WithClassName(cls.Class).Do(ctx)
		if err != nil {
			return b.wrap(err, "schema")
		}
		if ok {
			continue
		}
		if err := b.c.Schema().ClassCreator().WithClass(cls).Do(ctx); err != nil && !isAlreadyExists(err) {
			return b.wrap(err, "create collection "+cls.Class)
		}
	}
	b.schemaOK = true
	return nil
}

func boolp(v bool) *bool { return &v }

func textProp(name string, filterable bool) *models.Property {
	return &models.Property{Name: name, DataType: []string{"text"}, Tokenization: models.PropertyTokenizationField,
		IndexFilterable: boolp(filterable), IndexSearchable: boolp(false)}
}

func (b *Backend) replication() *models.ReplicationConfig {
	return &models.ReplicationConfig{Factor: int64(b.cfg.Replicas), AsyncEnabled: true,
		DeletionStrategy: models.ReplicationConfigDeletionStrategyDeleteOnConflict}
}

func (b *Backend) classes() []*models.Class {
	vic := map[string]any{"distance": "dot"}
	if b.cfg.Index == "hnsw" {
		vic["ef"] = b.cfg.EF
		vic["efConstruction"] = b.cfg.EFConstruction
		vic["maxConnections"] = b.cfg.MaxConnections
	}
	switch b.cfg.Compression {
	case "rq":
		vic["rq"] = map[string]any{"enabled": true, "rescoreLimit": b.cfg.Rescore}
	case "bq":
		// Flat + BQ keeps 1 bit per dimension in memory (cache) and
		// rescores the best rescoreLimit candidates with the full vectors.
		vic["bq"] = map[string]any{"enabled": true, "rescoreLimit": b.cfg.Rescore, "cache": b.cfg.Index == "flat"}
	case "pq":
		vic["pq"] = map[string]any{"enabled": true}
	}
	noVec := map[string]any{"skip": true}
	return []*models.Class{
		{
			Class:              b.tmplClass,
			Description:        "Vizor face templates; one tenant per gallery partition",
			Vectorizer:         "none",
			VectorIndexType:    b.cfg.Index,
			VectorIndexConfig:  vic,
			ReplicationConfig:  b.replication(),
			MultiTenancyConfig: &models.MultiTenancyConfig{Enabled: true},
			Properties: []*models.Property{
				textProp("subject", true), textProp("tid", false), textProp("model", false),
				{Name: "created", DataType: []string{"int"}, IndexFilterable: boolp(false), IndexRangeFilters: boolp(false)},
				textProp("meta", false),
				{Name: "hasImage", DataType: []string{"boolean"}, IndexFilterable: boolp(false)},
				{Name: "image", DataType: []string{"blob"}},
			},
		},
		{
			Class: b.partClass, Description: "Vizor gallery partitions (model id, dimension)",
			Vectorizer: "none", VectorIndexConfig: noVec, ReplicationConfig: b.replication(),
			Properties: []*models.Property{
				textProp("name", true), textProp("model", false),
				{Name: "dim", DataType: []string{"int"}, IndexFilterable: boolp(false), IndexRangeFilters: boolp(false)},
			},
		},
		{
			Class: b.setClass, Description: "Vizor partition settings and compatibility-flavour state",
			Vectorizer: "none", VectorIndexConfig: noVec, ReplicationConfig: b.replication(),
			Properties: []*models.Property{textProp("scope", true), textProp("key", true), textProp("value", false)},
		},
	}
}

// ns is the namespace of Vizor's deterministic object ids.
var ns = uuid.MustParse("8f0c5e2a-7b5d-4c1e-9a3f-56b1d0e7c4a2")

// TemplateID derives a template id from (partition, subject, key): a retried
// enrolment with the same key lands on the same object, not a second one.
// 63 bits, so that it also fits a signed integer anywhere it travels.
func TemplateID(partition, subject, key string) uint64 {
	u := uuid.NewSHA1(ns, []byte("template\x00"+partition+"\x00"+subject+"\x00"+key))
	var id uint64
	for _, c := range u[:8] {
		id = id<<8 | uint64(c)
	}
	id >>= 1
	if id == 0 {
		id = 1
	}
	return id
}

func objectID(partition string, id uint64) string {
	return uuid.NewSHA1(ns, []byte("object\x00"+partition+"\x00"+gallery.FormatID(id))).String()
}

func partitionObjectID(name string) string {
	return uuid.NewSHA1(ns, []byte("partition\x00"+name)).String()
}

func settingObjectID(scope, key string) string {
	return uuid.NewSHA1(ns, []byte("setting\x00"+scope+"\x00"+key)).String()
}

func randomKey() string {
	var k [16]byte
	_, _ = rand.Read(k[:])
	return hex.EncodeToString(k[:])
}

// Check implements gallery.Backend: one read of a fixed key at the read
// consistency. It succeeds while enough replicas answer (one node of three
// down is fine at QUORUM) and fails, naming the cluster and the cause,
// when they do not: the same condition under which writes are refused.
func (b *Backend) Check() error {
	if err := b.ready(); err != nil {
		return err
	}
	_, err := b.getSetting("health", "probe")
	return err
}

// Degraded names the cluster nodes that are not healthy while enough are
// (nil when all are): /health shows it without failing.
func (b *Backend) Degraded() []string {
	ctx, cancel, err := b.ctx()
	if err != nil {
		return nil
	}
	defer cancel()
	st, err := b.c.Cluster().NodesStatusGetter().Do(ctx)
	if err != nil {
		return nil
	}
	var down []string
	for _, n := range st.Nodes {
		if n.Status == nil || *n.Status != models.NodeStatusStatusHEALTHY {
			down = append(down, n.Name)
		}
	}
	return down
}

var errNoTenant = errors.New("tenant not found")
