// Package runtimes writes variants of a models manifest that put every net
// on one inference runtime ("ort" or "opencv"), so that tests and benchmarks
// can run the two runtimes side by side on the same model files.
package runtimes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Names are the runtimes a manifest may name for a net.
var Names = []string{"opencv", "ort"}

// WriteManifest reads the manifest at src, sets "runtime" to rt on every
// model, and writes the result to dir/manifest-<rt>.json, returning that
// path. Only the runtime field changes: the other fields (unknown ones
// included) are kept as they are.
func WriteManifest(src, dir, rt string) (string, error) {
	if rt != "ort" && rt != "opencv" {
		return "", fmt.Errorf("runtime must be ort or opencv, got %q", rt)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	var models []map[string]json.RawMessage
	if err := json.Unmarshal(m["models"], &models); err != nil {
		return "", fmt.Errorf("%s: models: %w", src, err)
	}
	q, _ := json.Marshal(rt)
	for _, mod := range models {
		mod["runtime"] = q
	}
	if m["models"], err = marshal(models, ""); err != nil {
		return "", err
	}
	out, err := marshal(m, " ")
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, "manifest-"+rt+".json")
	return dst, os.WriteFile(dst, out, 0o644)
}

// marshal encodes without HTML escaping: the engine's JSON reader (OpenCV's
// FileStorage) does not take \u escapes, and notes hold "<" and ">".
func marshal(v any, indent string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
