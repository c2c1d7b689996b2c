package masshealth

import (
	"os"
	"path/filepath"
	"testing"

	"vizor/internal/faceset"
)

func TestONNXStats(t *testing.T) {
	root, err := faceset.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "models", "fr_feature.onnx")
	if _, err := os.Stat(p); err != nil {
		faceset.Missing(t, "models (run `make models`)", err)
	}
	c, err := onnxStats(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fr_feature.onnx: %d parameters, %d nodes", c.params, c.nodes)
	if c.params < 1_000_000 || c.nodes < 10 {
		t.Fatalf("implausible counts %+v", c)
	}
}
