package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// Cache keeps templates on disk, one JSON file per (recognizer id, image
// sha256): <dir>/<recognizer id>/<sha256>.json. A file's bytes, not its
// name, decide the key, so renamed or copied images hit the cache and an
// edited image misses it. Failures (no face) are cached too.
type Cache struct {
	Dir     string
	ModelID string
}

// DefaultCacheDir is $VIZOR_CACHE/templates, else the user cache directory's
// vizor/templates.
func DefaultCacheDir() string {
	if d := os.Getenv("VIZOR_CACHE"); d != "" {
		return filepath.Join(d, "templates")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "vizor", "templates")
	}
	return filepath.Join(os.TempDir(), "vizor-templates")
}

// Key is the hex sha256 of an image's bytes.
func Key(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

func (c *Cache) path(key string) string {
	id := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r == 0 {
			return '_'
		}
		return r
	}, c.ModelID)
	return filepath.Join(c.Dir, id, key+".json")
}

// Get returns the cached template for key, if any.
func (c *Cache) Get(key string) (Template, bool) {
	if c == nil || c.Dir == "" {
		return Template{}, false
	}
	raw, err := os.ReadFile(c.path(key))
	if err != nil {
		return Template{}, false
	}
	var t Template
	if json.Unmarshal(raw, &t) != nil || t.ModelID != c.ModelID || t.SHA256 != key {
		return Template{}, false
	}
	return t, true
}

// Put stores a template (atomically: write then rename).
func (c *Cache) Put(t Template) error {
	if c == nil || c.Dir == "" {
		return nil
	}
	p := c.path(t.SHA256)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	raw, err := json.Marshal(t)
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}
