package gallery_test

import (
	"testing"

	"vizor/gallery"
	"vizor/gallery/gallerytest"
)

// TestContractEmbedded runs the backend contract against FAISS + bbolt; the
// Weaviate backend runs the same suite in gallery/weaviate.
func TestContractEmbedded(t *testing.T) {
	gallerytest.Run(t, func(t *testing.T) gallery.Backend {
		g, err := gallery.Open(gallery.Config{Dir: t.TempDir(), NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = g.Close() })
		return gallery.Embedded{Gallery: g}
	})
}
