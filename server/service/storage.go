package service

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// DefaultMinFreeBytes is the free space below which the gallery's
// filesystem is reported degraded: room for a few thousand enrolments and
// a snapshot of a small partition, so the warning comes before the
// failures.
const DefaultMinFreeBytes = 64 << 20

// storageEvery bounds how often /health touches the disk.
const storageEvery = 2 * time.Second

// StorageStatus is the gallery's filesystem as /health reports it.
type StorageStatus struct {
	Checked   bool   // false: no data directory configured
	Writable  bool   // free space above the reserve, a test write succeeded, no write failure since the last success
	FreeBytes uint64 // available to this process
	Cause     string // why not writable
}

// storage watches the filesystem that holds the gallery: statfs against a
// reserve, a small write that must reach the disk, and the last gallery
// write failure the service saw (cleared by the next successful write). A
// full disk otherwise shows only as "gallery failure" on each enrolment
// while /health says healthy.
type storage struct {
	dir     string
	minFree uint64

	mu       sync.Mutex
	at       time.Time
	last     StorageStatus
	writeErr error // last failed gallery write, nil after a success
}

func newStorage(dir string, minFree int64) *storage {
	if minFree <= 0 {
		minFree = DefaultMinFreeBytes
	}
	return &storage{dir: dir, minFree: uint64(minFree)}
}

// failed records a gallery write's failure (nil: nothing to record): a
// delete succeeding says little about room for the next enrolment.
func (st *storage) failed(err error) {
	if err != nil {
		st.wrote(err)
	}
}

// wrote records the outcome of an enrolment. Only failures of the store
// itself count: a missing subject or a model mismatch says nothing about
// the disk.
func (st *storage) wrote(err error) {
	if st == nil || (err != nil && Kind(err) != ErrInternal) {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.writeErr != nil && err == nil {
		st.at = time.Time{} // re-check now: the disk may have room again
	}
	st.writeErr = err
}

// status returns the cached status, refreshed at most every storageEvery.
func (st *storage) status() StorageStatus {
	if st == nil || st.dir == "" {
		return StorageStatus{Writable: true}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if time.Since(st.at) >= storageEvery {
		st.last, st.at = st.check(), time.Now()
	}
	s := st.last
	if s.Writable && st.writeErr != nil {
		s.Writable, s.Cause = false, "the last gallery write failed: "+LogDetail(st.writeErr)
	}
	return s
}

func (st *storage) check() StorageStatus {
	s := StorageStatus{Checked: true}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(st.dir, &fs); err != nil {
		s.Cause = "statfs: " + err.Error()
		return s
	}
	s.FreeBytes = fs.Bavail * uint64(fs.Bsize)
	if s.FreeBytes < st.minFree {
		s.Cause = fmt.Sprintf("%d MB free on the data directory's filesystem, below the reserve of %d MB", s.FreeBytes>>20, st.minFree>>20)
		return s
	}
	if err := writeProbe(filepath.Join(st.dir, ".vizor-write-probe")); err != nil {
		s.Cause = "test write: " + err.Error()
		return s
	}
	s.Writable = true
	return s
}

// writeProbe writes and syncs 4 KiB (so that a full or read-only disk, or
// an I/O error, shows here rather than only in the next enrolment) and
// removes the file again.
func writeProbe(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(make([]byte, 4096))
	serr := f.Sync()
	cerr := f.Close()
	rerr := os.Remove(path)
	if errors.Is(rerr, os.ErrNotExist) {
		rerr = nil
	}
	return errors.Join(werr, serr, cerr, rerr)
}

// Storage reports the gallery's filesystem (Config.DataDir): whether it
// takes writes and, when not, why.
func (s *Service) Storage() StorageStatus { return s.storage.status() }
