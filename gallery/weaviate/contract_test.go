package weaviate_test

import (
	"fmt"
	"os"
	"testing"

	"vizor/gallery"
	"vizor/gallery/gallerytest"
	"vizor/gallery/weaviate"
	"vizor/gallery/weaviate/weaviatetest"
)

var cluster *weaviatetest.Cluster

// TestMain runs this package's tests on one throwaway 3-node cluster
// (ports 18380-18382 HTTP, +10 gRPC, +100.. internal).
func TestMain(m *testing.M) {
	code := func() int {
		bin := weaviatetest.Binary()
		if bin == "" {
			return m.Run() // each test skips (or fails under VIZOR_REQUIRE_DATA=1)
		}
		dir := weaviatetest.Dir(18380)
		defer os.RemoveAll(dir)
		var err error
		cluster, err = weaviatetest.Start(bin, dir, 18380)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer cluster.Stop()
		return m.Run()
	}()
	os.Exit(code)
}

func open(t *testing.T, node int) *weaviate.Backend {
	t.Helper()
	weaviatetest.Skip(t)
	cfg, err := weaviate.ParseURL(cluster.URL(node, "prefix=VizorTest"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := weaviate.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestContractWeaviate: the gallery contract, unchanged, on the cluster.
func TestContractWeaviate(t *testing.T) {
	gallerytest.Run(t, func(t *testing.T) gallery.Backend { return open(t, 0) })
}
