package compat

// BodyImageLimit is the per-image limit of the APIs whose documents set
// none (Facenet512, MassHealth): the request body limit, max_body_bytes,
// so an image is refused as too large only where the body is. CompreFace
// documents 5 MB and keeps MaxImage (compat_max_image_mb).
func (d Deps) BodyImageLimit() int { return d.Cfg.MaxBodyBytes }
