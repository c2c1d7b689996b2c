package main

import (
	"fmt"
	"strings"

	"vizor/gallery"
	"vizor/gallery/weaviate"
	"vizor/server/config"
)

// openGallery opens the backend that the gallery setting names: the
// embedded FAISS + bbolt store in data_dir (default), or a Weaviate
// cluster (weaviate://...), which keeps every partition, subject and
// template so that any number of Vizor nodes serve the same galleries.
// snapshot is the embedded store's periodic index snapshot (nil for the
// cluster, which persists its own indexes).
func openGallery(cfg config.Config) (b gallery.Backend, snapshot func() error, where string, err error) {
	switch {
	case cfg.Gallery == "" || cfg.Gallery == "embedded":
		g, err := gallery.Open(gallery.Config{Dir: cfg.DataDir, KeepImages: cfg.KeepImages, DefaultIndexSpec: cfg.IndexSpec})
		if err != nil {
			return nil, nil, "", fmt.Errorf("gallery (%s): %w", cfg.DataDir, err)
		}
		return gallery.Embedded{Gallery: g}, g.Snapshot, cfg.DataDir, nil
	case strings.HasPrefix(cfg.Gallery, "weaviate://"):
		wc, err := weaviate.ParseURL(cfg.Gallery)
		if err != nil {
			return nil, nil, "", err
		}
		wc.KeepImages = wc.KeepImages || cfg.KeepImages
		w, err := weaviate.Open(wc)
		if err != nil {
			return nil, nil, "", err
		}
		return w, nil, "weaviate " + wc.Host, nil
	}
	return nil, nil, "", fmt.Errorf("gallery %q: want embedded or weaviate://HOST:PORT?grpc=PORT", cfg.Gallery)
}
