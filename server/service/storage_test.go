package service_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vizor/server/service"
	st "vizor/server/service/servicetest"
)

// failingGallery's writes fail as a full disk makes them fail.
type failingGallery struct {
	*st.MemGallery
	err error
}

func (g *failingGallery) Enrol(ctx context.Context, p, s string, t service.Template, img []byte) (string, error) {
	if g.err != nil {
		return "", g.err
	}
	return g.MemGallery.Enrol(ctx, p, s, t, img)
}

func storageSvc(t *testing.T, dir string, minFree int64, g service.Gallery) *service.Service {
	t.Helper()
	return service.New(service.Config{MatchThreshold: 0.45, DataDir: dir, MinFreeBytes: minFree}, &st.FakeEngine{}, g)
}

func TestStorageHealthy(t *testing.T) {
	s := storageSvc(t, t.TempDir(), 1, st.NewMemGallery())
	if got := s.Storage(); !got.Checked || !got.Writable || got.FreeBytes == 0 || got.Cause != "" {
		t.Fatalf("%+v", got)
	}
	if got := service.New(service.Config{}, &st.FakeEngine{}, st.NewMemGallery()).Storage(); got.Checked || !got.Writable {
		t.Fatalf("no data dir: %+v", got)
	}
}

// Free space under the reserve is reported before any write fails.
func TestStorageBelowReserve(t *testing.T) {
	s := storageSvc(t, t.TempDir(), 1<<62, st.NewMemGallery())
	if got := s.Storage(); got.Writable || !strings.Contains(got.Cause, "below the reserve") {
		t.Fatalf("%+v", got)
	}
}

// A write that really fails with ENOSPC: the probe file is a link to
// /dev/full, which answers every write so.
func TestStorageWriteFailsENOSPC(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	dir := t.TempDir()
	if err := os.Symlink("/dev/full", filepath.Join(dir, ".vizor-write-probe")); err != nil {
		t.Fatal(err)
	}
	s := storageSvc(t, dir, 1, st.NewMemGallery())
	if got := s.Storage(); got.Writable || !strings.Contains(got.Cause, "no space left on device") {
		t.Fatalf("%+v", got)
	}
}

// A gallery write failure shows until a later write succeeds; errors that
// say nothing about the disk (an unknown subject) do not count.
func TestStorageRemembersGalleryWriteFailure(t *testing.T) {
	g := &failingGallery{MemGallery: st.NewMemGallery(), err: errors.New("write gallery.db: no space left on device")}
	s := storageSvc(t, t.TempDir(), 1, g)
	ctx := context.Background()
	_, err := s.Enrol(ctx, st.Image(good), "alice", service.Options{})
	if !errors.Is(err, service.ErrInternal) && service.Kind(err) != service.ErrInternal {
		t.Fatalf("enrol: %v", err)
	}
	if got := s.Storage(); got.Writable || !strings.Contains(got.Cause, "no space left on device") {
		t.Fatalf("after a failed write: %+v", got)
	}
	if _, err := s.Delete(ctx, "nobody", service.Options{}); !errors.Is(err, service.ErrNotFound) {
		t.Fatalf("delete: %v", err)
	}
	if got := s.Storage(); got.Writable {
		t.Fatalf("a not-found cleared the failure: %+v", got)
	}
	g.err = nil
	if _, err := s.Enrol(ctx, st.Image(good), "alice", service.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := s.Storage(); !got.Writable {
		t.Fatalf("after a good write: %+v", got)
	}
}
