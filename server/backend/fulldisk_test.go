package backend_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"vizor/gallery"
	"vizor/server/backend"
	"vizor/server/service"
	st "vizor/server/service/servicetest"
)

var good = st.FakeFace{W: 100, H: 120, Quality: 0.9, Liveness: 0.9, Seed: 1}

// A real full disk under the real gallery (through this package's adapter,
// as vizor serve runs it): a 4 MB tmpfs (where this test
// may mount one; it skips elsewhere) filled to the last byte. Enrolment
// fails, Storage says why, and once there is room again both recover.
func TestFullDiskShowsInStorage(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })
	g, err := gallery.Open(gallery.Config{Dir: filepath.Join(mnt, "data")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	s := service.New(service.Config{MatchThreshold: 0.45, DataDir: filepath.Join(mnt, "data"), MinFreeBytes: 1},
		&st.FakeEngine{}, backend.NewGallery(gallery.Embedded{Gallery: g}))
	ctx := context.Background()
	if _, err := s.Enrol(ctx, st.Image(good), "alice", service.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := s.Storage(); !got.Writable {
		t.Fatalf("empty disk: %+v", got)
	}
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	for n := 4096; n > 0; n /= 2 { // the last partial blocks too
		for {
			if _, err := f.Write(chunk[:n]); err != nil {
				break
			}
		}
	}
	_ = f.Close()
	var enrolErr error
	for i := 0; i < 200 && enrolErr == nil; i++ { // until the store needs a new page
		_, enrolErr = s.Enrol(ctx, st.Image(good), "bob", service.Options{})
	}
	if service.Kind(enrolErr) != service.ErrInternal || !strings.Contains(service.LogDetail(enrolErr), "no space left on device") {
		t.Fatalf("enrol on a full disk: %v (%s)", enrolErr, service.LogDetail(enrolErr))
	}
	got := s.Storage()
	if got.Writable || !strings.Contains(got.Cause, "no space left on device") {
		t.Fatalf("full disk: %+v", got)
	}
	t.Logf("full disk: %s", got.Cause)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enrol(ctx, st.Image(good), "carol", service.Options{}); err != nil {
		t.Fatalf("enrol with room again: %v", err)
	}
	if got := s.Storage(); !got.Writable {
		t.Fatalf("room again: %+v", got)
	}
}
