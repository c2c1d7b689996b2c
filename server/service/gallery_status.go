package service

import "context"

// GalleryChecker is a gallery that can tell cheaply whether its store is
// usable and what it is (a cluster's adapter: one round trip, where Stats
// would list every partition).
type GalleryChecker interface {
	Check(ctx context.Context) error
	Kind() string
}

// GalleryStatus names the gallery backend ("embedded", "weaviate"; "" when
// the gallery cannot say) and, when it cannot serve, why: /health shows
// which dependency is down.
func (s *Service) GalleryStatus(ctx context.Context) (kind string, err error) {
	if c, ok := s.gallery.(GalleryChecker); ok {
		return c.Kind(), c.Check(ctx)
	}
	_, err = s.gallery.Stats(ctx)
	return "", err
}
