package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	client "github.com/weaviate/weaviate-go-client/v5/weaviate"
	"github.com/weaviate/weaviate/entities/models"

	"vizor/gallery/weaviate"
)

// mappingBench times what creating and dropping a partition costs under
// the two isolating mappings: a tenant of one multi-tenant collection, or a
// collection of its own (both replicated 3 times, both Raft operations).
func mappingBench(u string, rounds int) string {
	cfg, err := weaviate.ParseURL(u)
	check(err)
	c, err := client.NewClient(client.Config{Host: cfg.Host, Scheme: "http"})
	check(err)
	ctx := context.Background()
	repl := &models.ReplicationConfig{Factor: 3}
	mt := &models.Class{Class: "MapBenchMT", Vectorizer: "none", ReplicationConfig: repl,
		MultiTenancyConfig: &models.MultiTenancyConfig{Enabled: true}, VectorIndexType: "flat"}
	_ = c.Schema().ClassDeleter().WithClassName(mt.Class).Do(ctx)
	check(c.Schema().ClassCreator().WithClass(mt).Do(ctx))
	var tc, td, cc, cd []time.Duration
	for i := 0; i < rounds; i++ {
		name := fmt.Sprintf("p%03d", i)
		t := time.Now()
		check(c.Schema().TenantsCreator().WithClassName(mt.Class).WithTenants(models.Tenant{Name: name}).Do(ctx))
		tc = append(tc, time.Since(t))
		cls := &models.Class{Class: fmt.Sprintf("MapBenchP%03d", i), Vectorizer: "none", ReplicationConfig: repl, VectorIndexType: "flat"}
		t = time.Now()
		check(c.Schema().ClassCreator().WithClass(cls).Do(ctx))
		cc = append(cc, time.Since(t))
	}
	for i := 0; i < rounds; i++ {
		t := time.Now()
		check(c.Schema().TenantsDeleter().WithClassName(mt.Class).WithTenants(fmt.Sprintf("p%03d", i)).Do(ctx))
		td = append(td, time.Since(t))
		t = time.Now()
		check(c.Schema().ClassDeleter().WithClassName(fmt.Sprintf("MapBenchP%03d", i)).Do(ctx))
		cd = append(cd, time.Since(t))
	}
	_ = c.Schema().ClassDeleter().WithClassName(mt.Class).Do(ctx)
	med := func(d []time.Duration) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[len(s)/2].Microseconds()) / 1000
	}
	out := fmt.Sprintf("\nPartition mapping, %d partitions created then dropped (median ms): tenant create %.1f, drop %.1f; collection create %.1f, drop %.1f.\n",
		rounds, med(tc), med(td), med(cc), med(cd))
	fmt.Fprint(os.Stderr, out)
	return out
}
