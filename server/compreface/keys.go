package compreface

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Service types of CompreFace API keys.
const (
	Recognition  = "recognition"
	Detection    = "detection"
	Verification = "verification"
)

// Key is one CompreFace service API key. A recognition key owns its own
// face collection (a gallery partition named after the key's hash).
type Key struct {
	Key     string    `json:"key"` // a UUID, as CompreFace issues them
	Type    string    `json:"type"`
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created"`
}

// KeyFile is the JSON keys file `vizor compreface-keys` writes.
type KeyFile struct {
	Keys []Key `json:"keys"`
}

// KeysPath is the keys file for a configured path and data directory.
func KeysPath(configured, dataDir string) string {
	if configured != "" {
		return configured
	}
	return filepath.Join(dataDir, "compreface", "keys.json")
}

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsUUID reports whether s is a canonical UUID string.
func IsUUID(s string) bool { return uuidRe.MatchString(s) }

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ValidType reports whether t is a service type.
func ValidType(t string) bool { return t == Recognition || t == Detection || t == Verification }

// ReadKeys reads a keys file; a missing file is an empty one.
func ReadKeys(path string) (KeyFile, error) {
	var kf KeyFile
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return kf, nil
	}
	if err != nil {
		return kf, err
	}
	if err := json.Unmarshal(b, &kf); err != nil {
		return kf, fmt.Errorf("%s: %w", path, err)
	}
	for _, k := range kf.Keys {
		if !IsUUID(k.Key) || !ValidType(k.Type) {
			return kf, fmt.Errorf("%s: bad entry (key %q type %q): keys are UUIDs, types recognition, detection or verification", path, k.Key, k.Type)
		}
	}
	return kf, nil
}

// WriteKeys writes a keys file atomically (mode 0600).
func WriteKeys(path string, kf KeyFile) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// CreateKey adds a new key of type t to the file and returns it.
func CreateKey(path, t, name string) (Key, error) {
	t = strings.ToLower(strings.TrimSpace(t))
	if !ValidType(t) {
		return Key{}, fmt.Errorf("type %q: want recognition, detection or verification", t)
	}
	kf, err := ReadKeys(path)
	if err != nil {
		return Key{}, err
	}
	k := Key{Key: NewUUID(), Type: t, Name: name, Created: time.Now().UTC().Truncate(time.Second)}
	kf.Keys = append(kf.Keys, k)
	return k, WriteKeys(path, kf)
}

// DeleteKey removes a key from the file (its face collection stays in the
// gallery until deleted through the API).
func DeleteKey(path, key string) error {
	kf, err := ReadKeys(path)
	if err != nil {
		return err
	}
	out := kf.Keys[:0]
	found := false
	for _, k := range kf.Keys {
		if k.Key == key {
			found = true
			continue
		}
		out = append(out, k)
	}
	if !found {
		return fmt.Errorf("no key %s in %s", key, path)
	}
	kf.Keys = out
	return WriteKeys(path, kf)
}

// Partition is the gallery partition holding a recognition key's face
// collection: "cf-" and 32 hex digits of the key's SHA-256, so that the key
// itself never shows in partition listings.
func Partition(key string) string {
	h := sha256.Sum256([]byte(strings.ToLower(key)))
	return "cf-" + hex.EncodeToString(h[:16])
}

// keyring serves lookups from the keys file, re-reading it when it changes
// (keys created by the CLI work without a restart).
type keyring struct {
	path    string
	mu      sync.Mutex
	keys    map[string]Key
	mtime   time.Time
	size    int64
	checked time.Time
}

func newKeyring(path string) (*keyring, error) {
	r := &keyring{path: path}
	if err := r.reload(true); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *keyring) reload(force bool) error {
	st, err := os.Stat(r.path)
	var mt time.Time
	var size int64
	if err == nil {
		mt, size = st.ModTime(), st.Size()
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if !force && mt.Equal(r.mtime) && size == r.size {
		return nil
	}
	kf, err := ReadKeys(r.path)
	if err != nil {
		return err
	}
	m := make(map[string]Key, len(kf.Keys))
	for _, k := range kf.Keys {
		m[strings.ToLower(k.Key)] = k
	}
	r.keys, r.mtime, r.size = m, mt, size
	return nil
}

// lookup finds a key, re-reading the file when it changed (checked at most
// every 500ms, and on every miss).
func (r *keyring) lookup(key string) (Key, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) > 500*time.Millisecond {
		r.checked = now
		_ = r.reload(false) // keep the last good keys on a bad file
	}
	k, ok := r.keys[strings.ToLower(key)]
	if !ok { // a key just created by the CLI: look again now
		r.checked = time.Now()
		if r.reload(false) == nil {
			k, ok = r.keys[strings.ToLower(key)]
		}
	}
	return k, ok
}

func (r *keyring) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}
