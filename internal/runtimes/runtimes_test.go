package runtimes

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteManifestSetsEveryRuntime(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.json")
	in := `{"version": 1, "extra": {"k": 2}, "models": [
 {"role": "detector", "file": "a.onnx", "runtime": "opencv", "input": {"width": 1}},
 {"role": "recognizer", "file": "b.onnx", "note": "x <= y & z"}]}`
	if err := os.WriteFile(src, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, rt := range Names {
		p, err := WriteManifest(src, dir, rt)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Version int             `json:"version"`
			Extra   json.RawMessage `json:"extra"`
			Models  []map[string]any
		}
		b, _ := os.ReadFile(p)
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		var extra bytes.Buffer
		if err := json.Compact(&extra, m.Extra); err != nil {
			t.Fatal(err)
		}
		if m.Version != 1 || extra.String() != `{"k":2}` || len(m.Models) != 2 {
			t.Fatalf("%s: other fields changed: %s", rt, b)
		}
		for _, mod := range m.Models {
			if mod["runtime"] != rt {
				t.Errorf("%s: model %v has runtime %v", rt, mod["role"], mod["runtime"])
			}
		}
		// OpenCV's JSON reader takes no \u escapes: <, > and & stay as they are.
		if m.Models[1]["note"] != "x <= y & z" || !bytes.Contains(b, []byte("x <= y & z")) || m.Models[0]["input"] == nil {
			t.Errorf("%s: model fields lost: %s", rt, b)
		}
	}
}

func TestWriteManifestRefusesUnknownRuntime(t *testing.T) {
	if _, err := WriteManifest("/nonexistent", t.TempDir(), "tensorrt"); err == nil {
		t.Fatal("tensorrt accepted")
	}
}
