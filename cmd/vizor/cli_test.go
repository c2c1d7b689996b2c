package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"vizor/internal/faceset"
	"vizor/internal/vizorproc"
)

// vizorBinary builds bin/vizor from this package into a temporary folder, so
// the subcommands are tested as a user runs them (flags, exit codes, stdout).
func vizorBinary(t *testing.T) (bin, models, faces string) {
	t.Helper()
	dir, models := faceset.TestDirs(t)
	root := filepath.Dir(models)
	bin = filepath.Join(t.TempDir(), "vizor")
	if err := vizorproc.Build(root, bin); err != nil {
		t.Fatal(err)
	}
	return bin, models, filepath.Join(dir, "faces")
}

func runVizor(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("vizor %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

func TestCLI(t *testing.T) {
	bin, models, faces := vizorBinary(t)
	photo := func(name string) string { return filepath.Join(faces, name) }
	probe, err := faceset.ProbePath()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("compare same person", func(t *testing.T) {
		// The probe is a crop of luda.jpg.
		out, errOut, code := runVizor(t, bin, "compare", "-models", models, photo("luda.jpg"), probe)
		if code != 0 || !strings.Contains(out, "same person") || !strings.HasPrefix(out, "score 0.9") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("compare different people", func(t *testing.T) {
		out, errOut, code := runVizor(t, bin, "compare", "-models", models, photo("chaeyeon.jpg"), photo("jimin.jpg"))
		if code != 0 || !strings.Contains(out, "different people") || !strings.Contains(out, "threshold 0.45") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("compare needs two photos", func(t *testing.T) {
		_, errOut, code := runVizor(t, bin, "compare", "-models", models, probe)
		if code != 1 || !strings.Contains(errOut, "exactly two photos") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("compare without a face", func(t *testing.T) {
		blank := filepath.Join(t.TempDir(), "blank.png")
		// A 64x64 grey PNG: decodes, holds no face.
		if err := os.WriteFile(blank, greyPNG(), 0o644); err != nil {
			t.Fatal(err)
		}
		_, errOut, code := runVizor(t, bin, "compare", "-models", models, blank, probe)
		if code != 1 || !strings.Contains(errOut, "blank.png") || !strings.Contains(strings.ToLower(errOut), "no face") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("serve refuses a stray argument", func(t *testing.T) {
		// "-facenet512 true" ends flag parsing at "true": the address after
		// it would be ignored without a word.
		_, errOut, code := runVizor(t, bin, "serve", "-facenet512", "true", "-facenet512-addr", "127.0.0.1:1")
		if code != 1 || !strings.Contains(errOut, `unexpected argument "true"`) {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("analyze", func(t *testing.T) {
		trunc := filepath.Join(t.TempDir(), "truncated.jpg")
		b, err := os.ReadFile(photo("jimin.jpg"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(trunc, b[:len(b)/3], 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runVizor(t, bin, "analyze", "-models", models, "-attributes=false", "-template",
			photo("pristin.jpg"), photo("jimin4.jpg"), trunc)
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		var imgs []struct {
			File  string `json:"file"`
			Width int    `json:"width"`
			Error string `json:"error"`
			Faces []struct {
				Template []float32               `json:"template"`
				Quality  struct{ Score float64 } `json:"quality"`
			} `json:"faces"`
		}
		if err := json.Unmarshal([]byte(out), &imgs); err != nil {
			t.Fatalf("stdout is not the JSON array: %v\n%s", err, out)
		}
		if len(imgs) != 3 {
			t.Fatalf("%d results for 3 files", len(imgs))
		}
		if n := len(imgs[0].Faces); n != 10 || imgs[0].Width != 2100 {
			t.Errorf("pristin.jpg: %d faces, width %d; want 10, 2100", n, imgs[0].Width)
		}
		if n := len(imgs[1].Faces); n != 2 {
			t.Errorf("jimin4.jpg: %d faces, want 2", n)
		}
		for _, f := range append(imgs[0].Faces, imgs[1].Faces...) {
			if len(f.Template) != 512 || f.Quality.Score < 0 || f.Quality.Score > 1 {
				t.Errorf("face: template %d floats, quality %v", len(f.Template), f.Quality.Score)
			}
		}
		if imgs[2].Error == "" || len(imgs[2].Faces) != 0 {
			t.Errorf("truncated JPEG: error %q, %d faces; want an error and no faces", imgs[2].Error, len(imgs[2].Faces))
		}
	})
}

// greyPNG is a 64x64 mid-grey image.
func greyPNG() []byte {
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
