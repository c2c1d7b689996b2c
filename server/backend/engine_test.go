package backend_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"vizor/bindings"
	"vizor/internal/faceset"
	"vizor/server/backend"
	"vizor/server/service"
)

// The real engine behind the adapter: a request under PAD policy off
// (service.WithoutPAD) gets its template without the PAD pass, and the face
// says its liveness was not computed; otherwise it is scored.
func TestEngineSkipsPADWhenAskedTo(t *testing.T) {
	root, err := faceset.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := faceset.Dir()
	if err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(filepath.Join(dir, "faces", "joy.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := bindings.Open(bindings.Config{ModelsDir: filepath.Join(root, "models"), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	e := backend.NewEngine(eng)
	for _, off := range []bool{false, true} {
		ctx := context.Background()
		if off {
			ctx = service.WithoutPAD(ctx)
		}
		rs, err := e.Analyze(ctx, [][]byte{img})
		if err != nil || len(rs) != 1 || rs[0].Err != nil || len(rs[0].Faces) != 1 {
			t.Fatalf("off=%v: %v %+v", off, err, rs)
		}
		f := rs[0].Faces[0]
		if len(f.Template) == 0 {
			t.Fatalf("off=%v: no template", off)
		}
		scored := f.LivenessStatus == service.LivenessScored && f.Liveness >= 0
		if scored == off {
			t.Fatalf("off=%v: liveness %v status %q", off, f.Liveness, f.LivenessStatus)
		}
	}
}
