package compreface

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// state is what the CompreFace flavour keeps beside the gallery: subjects
// created without examples (the gallery only knows subjects that have
// templates) and the secret that makes image ids unguessable. It lives in
// <data_dir>/compreface/state.json.
type state struct {
	path string
	mu   sync.Mutex
	data stateData
	// remote, when set, holds the state instead of path (sharedstate.go).
	remote SharedStore
}

type stateData struct {
	Secret   string              `json:"secret"`
	Subjects map[string][]string `json:"subjects"` // partition -> declared subjects
}

func openState(dir string) (*state, error) {
	s := &state{path: filepath.Join(dir, "compreface", "state.json")}
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, &s.data); err != nil {
			return nil, err
		}
	}
	if s.data.Subjects == nil {
		s.data.Subjects = map[string][]string{}
	}
	if len(s.data.Secret) != 64 {
		var k [32]byte
		_, _ = rand.Read(k[:])
		s.data.Secret = hex.EncodeToString(k[:])
		if err := s.save(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *state) save() error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(s.data)
	if err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.path)
}

func (s *state) declared(part string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.remote != nil {
		return s.remoteDeclared(part)
	}
	return slices.Clone(s.data.Subjects[part])
}

func (s *state) hasDeclared(part, subject string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.remote != nil {
		return slices.Contains(s.remoteDeclared(part), subject)
	}
	return slices.Contains(s.data.Subjects[part], subject)
}

// declare adds subject; it reports false when it was already declared.
func (s *state) declare(part, subject string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.remote != nil {
		cur := s.remoteDeclared(part)
		if slices.Contains(cur, subject) {
			return false, nil
		}
		return true, s.remoteSave(part, append(cur, subject))
	}
	if slices.Contains(s.data.Subjects[part], subject) {
		return false, nil
	}
	s.data.Subjects[part] = append(s.data.Subjects[part], subject)
	return true, s.save()
}

// undeclare removes subjects (all of the partition's when none are given)
// and returns how many it removed.
func (s *state) undeclare(part string, subjects ...string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.data.Subjects[part]
	if s.remote != nil {
		cur = s.remoteDeclared(part)
	}
	if len(cur) == 0 {
		return 0, nil
	}
	var keep []string
	if len(subjects) > 0 {
		for _, x := range cur {
			if !slices.Contains(subjects, x) {
				keep = append(keep, x)
			}
		}
	}
	n := len(cur) - len(keep)
	if n == 0 {
		return 0, nil
	}
	if s.remote != nil {
		return n, s.remoteSave(part, keep)
	}
	if len(keep) == 0 {
		delete(s.data.Subjects, part)
	} else {
		s.data.Subjects[part] = keep
	}
	return n, s.save()
}

// imageID renders a gallery template id as a UUID: the id itself in the
// last eight bytes (under the RFC 4122 variant bits) and, in the first
// eight, a keyed hash of the id and the partition (under the version
// nibble). Ids cannot be guessed, and an id from one key's collection is
// not found in another's.
func (s *state) imageID(part string, id uint64) string {
	var b [16]byte
	copy(b[:8], s.tag(part, id))
	b[6] = b[6]&0x0f | 0x40
	binary.BigEndian.PutUint64(b[8:], id)
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// templateID parses an image id made by imageID for part.
func (s *state) templateID(part, uuid string) (uint64, bool) {
	if !IsUUID(uuid) {
		return 0, false
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(uuid, "-", ""))
	if err != nil || len(raw) != 16 {
		return 0, false
	}
	var hi [8]byte
	copy(hi[:], raw[8:])
	if hi[0]&0xc0 != 0x80 {
		return 0, false
	}
	hi[0] &= 0x3f
	id := binary.BigEndian.Uint64(hi[:])
	return id, id != 0 && s.imageID(part, id) == strings.ToLower(uuid)
}

func (s *state) tag(part string, id uint64) []byte {
	key, _ := hex.DecodeString(s.data.Secret)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(part))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	m.Write(b[:])
	return m.Sum(nil)[:8]
}
