// Package weaviate keeps a Vizor gallery in a Weaviate cluster, so that any
// number of stateless Vizor nodes serve the same partitions, subjects and
// templates. It implements gallery.Backend; the contract tests in
// gallery/gallerytest run against it unchanged (see gallery/README.md,
// "Cluster backend", for the mapping, consistency and sizing).
package weaviate

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config says where the cluster is and how Vizor uses it.
type Config struct {
	// Host is the HTTP address of one Weaviate node ("127.0.0.1:8080"); a
	// load balancer in front of the nodes in production.
	Host string
	// GRPCHost is the gRPC address of the same node (batches, searches).
	GRPCHost string
	// Prefix starts the collection names (<Prefix>Template, ...): two
	// Vizor deployments may share a cluster under different prefixes.
	Prefix string
	// Replicas is the replication factor of new collections (3).
	Replicas int
	// Write and Read are the consistency levels (ONE, QUORUM, ALL) writes
	// are acknowledged at and reads ask for. QUORUM/QUORUM (the default)
	// makes W + R > RF: a read sees every acknowledged write.
	Write, Read string
	// AllFirst asks for ALL replicas before settling for Write (default
	// on; all_first=false turns it off): see Backend.write.
	AllFirst bool
	// Timeout bounds one call to the cluster (5 s).
	Timeout time.Duration
	// Index is the vector index of each partition: "flat" (default) or
	// "hnsw"; EF, EFConstruction, MaxConnections tune HNSW. Flat because
	// Weaviate inserts into HNSW synchronously on every replica: at 2x10^4
	// templates on 2 cores, HNSW took 88 templates/s against flat + BQ's
	// 1,769 (BENCHMARKS.md, "Gallery backends").
	Index                              string
	EF, EFConstruction, MaxConnections int
	// Compression: "bq" (default; with flat, 1 bit per dimension kept in
	// memory, candidates rescored with the full vectors, so scores are
	// exact), "rq", "pq" or "none".
	Compression string
	// Rescore is how many BQ/RQ candidates are rescored with the full
	// vectors (256).
	Rescore int
	// PartitionCache lets searches and verifies trust a partition record
	// (model, dimension, existence) read this long ago instead of reading
	// it at the read consistency each time (0, the default: always read,
	// one more round trip). With a cache, a partition deleted through
	// another Vizor node can still answer here for that long.
	PartitionCache time.Duration
	// KeepImages keeps enrolment images even when EnrolOptions.KeepImage
	// is off (as gallery.Config.KeepImages).
	KeepImages bool
}

func (c *Config) defaults() {
	if c.Prefix == "" {
		c.Prefix = "Vizor"
	}
	if c.Replicas == 0 {
		c.Replicas = 3
	}
	if c.Write == "" {
		c.Write = "QUORUM"
	}
	if c.Read == "" {
		c.Read = "QUORUM"
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Index == "" {
		c.Index = "flat"
	}
	if c.Compression == "" {
		c.Compression = "bq"
	}
	if c.Rescore == 0 {
		c.Rescore = 256
	}
	if c.EF == 0 {
		c.EF = 256
	}
	if c.EFConstruction == 0 {
		c.EFConstruction = 256
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = 32
	}
	if c.GRPCHost == "" {
		h, _, err := net.SplitHostPort(c.Host)
		if err != nil {
			h = c.Host
		}
		c.GRPCHost = net.JoinHostPort(h, "50051")
	}
}

// ParseURL reads a gallery URL:
//
//	weaviate://HOST:PORT?grpc=PORT|HOST:PORT&replicas=3&write=QUORUM&read=QUORUM
//	  &timeout=5s&prefix=Vizor&index=flat|hnsw&ef=256&ef_construction=256
//	  &max_connections=32&compression=bq|rq|pq|none&rescore=256&all_first=true&partition_cache=0s&keep_images=false
func ParseURL(s string) (Config, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Config{}, fmt.Errorf("gallery url: %w", err)
	}
	if u.Scheme != "weaviate" {
		return Config{}, fmt.Errorf("gallery url %q: scheme must be weaviate://", s)
	}
	if u.Host == "" {
		return Config{}, fmt.Errorf("gallery url %q: no host", s)
	}
	c := Config{Host: u.Host, AllFirst: true}
	q := u.Query()
	for k := range q {
		switch k {
		case "grpc", "rescore", "all_first", "partition_cache", "replicas", "write", "read", "timeout", "prefix", "index", "ef", "ef_construction", "max_connections", "compression", "keep_images":
		default:
			return Config{}, fmt.Errorf("gallery url: unknown parameter %q", k)
		}
	}
	if g := q.Get("grpc"); g != "" {
		if _, err := strconv.Atoi(g); err == nil {
			h, _, _ := net.SplitHostPort(u.Host)
			g = net.JoinHostPort(h, g)
		}
		c.GRPCHost = g
	}
	ints := map[string]*int{"rescore": &c.Rescore, "replicas": &c.Replicas, "ef": &c.EF, "ef_construction": &c.EFConstruction, "max_connections": &c.MaxConnections}
	for k, p := range ints {
		if v := q.Get(k); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return Config{}, fmt.Errorf("gallery url: %s=%q (want a positive integer)", k, v)
			}
			*p = n
		}
	}
	for k, p := range map[string]*string{"write": &c.Write, "read": &c.Read} {
		if v := strings.ToUpper(q.Get(k)); v != "" {
			if v != "ONE" && v != "QUORUM" && v != "ALL" {
				return Config{}, fmt.Errorf("gallery url: %s=%q (want ONE, QUORUM or ALL)", k, v)
			}
			*p = v
		}
	}
	if v := q.Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("gallery url: timeout=%q (want a duration such as 5s)", v)
		}
		c.Timeout = d
	}
	if v := q.Get("prefix"); v != "" {
		if !validPrefix(v) {
			return Config{}, fmt.Errorf("gallery url: prefix=%q (want a capital letter then letters and digits)", v)
		}
		c.Prefix = v
	}
	switch v := q.Get("index"); v {
	case "", "hnsw", "flat":
		c.Index = v
	default:
		return Config{}, fmt.Errorf("gallery url: index=%q (want hnsw or flat)", v)
	}
	switch v := q.Get("compression"); v {
	case "", "rq", "bq", "pq", "none":
		c.Compression = v
	default:
		return Config{}, fmt.Errorf("gallery url: compression=%q (want bq, rq, pq or none)", v)
	}
	if v := q.Get("partition_cache"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return Config{}, fmt.Errorf("gallery url: partition_cache=%q (want a duration such as 2s)", v)
		}
		c.PartitionCache = d
	}
	if v := q.Get("all_first"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("gallery url: all_first=%q", v)
		}
		c.AllFirst = b
	}
	if v := q.Get("keep_images"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("gallery url: keep_images=%q", v)
		}
		c.KeepImages = b
	}
	c.defaults()
	return c, nil
}

func validPrefix(s string) bool {
	if s == "" || len(s) > 32 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
