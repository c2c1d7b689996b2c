package bulk

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"time"
)

// The journal makes an import resumable. It is a JSON-lines file: a "sent"
// line before a photo goes to the server and an "enrolled" line once the
// server accepted it, each keyed by server, partition, subject and the
// photo's SHA-256 (so a renamed or moved file is still recognised, and an
// edited one is not). Every line is one write(2) to a file opened for
// appending, so a killed import leaves whole lines (a torn last line after
// a machine crash is ignored on reading). A photo with a "sent" line and no
// "enrolled" one may or may not have reached the gallery: the next run asks
// the server (Importer.settle) rather than enrolling it twice.

// Journal states.
const (
	StateSent     = "sent"
	StateEnrolled = "enrolled"
)

// Entry is one journal line.
type Entry struct {
	State      string    `json:"state"`
	Server     string    `json:"server"`
	Partition  string    `json:"partition"`
	Subject    string    `json:"subject"`
	SHA256     string    `json:"sha256"`
	Path       string    `json:"path"`
	TemplateID string    `json:"template_id,omitempty"`
	Meta       []string  `json:"meta,omitempty"`
	Time       time.Time `json:"time"`
}

func (e Entry) key() string {
	return e.Server + "\x00" + e.Partition + "\x00" + e.Subject + "\x00" + e.SHA256
}

// Journal is an open journal file and what it already says.
type Journal struct {
	mu    sync.Mutex
	f     *os.File
	state map[string]string // key -> StateSent or StateEnrolled
}

// OpenJournal reads path (if it exists) and opens it for appending.
func OpenJournal(path string) (*Journal, error) {
	j := &Journal{state: map[string]string{}}
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var e Entry
			if json.Unmarshal(sc.Bytes(), &e) != nil || e.SHA256 == "" {
				continue // a torn line
			}
			if e.State == StateEnrolled || j.state[e.key()] == "" {
				j.state[e.key()] = e.State
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	j.f = f
	return j, nil
}

// State is what the journal says of e's photo: "", StateSent or
// StateEnrolled.
func (j *Journal) State(e Entry) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.state[e.key()]
}

// Record appends e as one line.
func (j *Journal) Record(e Entry) error {
	e.Time = time.Now().UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(b); err != nil {
		return err
	}
	if e.State == StateEnrolled || j.state[e.key()] == "" {
		j.state[e.key()] = e.State
	}
	return nil
}

// Close syncs and closes the file.
func (j *Journal) Close() error {
	err := j.f.Sync()
	return errors.Join(err, j.f.Close())
}
