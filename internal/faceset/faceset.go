// Package faceset locates and reads the labelled photo set that tests and
// benchmarks use: ../shared/data beside the repository (as CI lays it out),
// or $VIZOR_SHARED_DATA.
package faceset

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Photo is one row of faces/LABELS.tsv.
type Photo struct {
	File     string // base name, e.g. bona.jpg
	Path     string // full path
	Identity string // "-" for the group photo
	Faces    int
	Note     string
}

// Profile reports whether the photo is the full-profile hard case.
func (p Photo) Profile() bool { return strings.Contains(p.Note, "full profile") }

// Group reports whether the photo has no single identity.
func (p Photo) Group() bool { return p.Identity == "-" }

// ErrMissing is returned when the shared data directory cannot be found.
var ErrMissing = errors.New("shared data not found (set VIZOR_SHARED_DATA or put shared/ beside the repo)")

// Dir returns the shared data directory (the one holding faces/ and
// probe-640x480.jpg).
func Dir() (string, error) {
	d := os.Getenv("VIZOR_SHARED_DATA")
	if d == "" {
		root, err := repoRoot()
		if err != nil {
			return "", err
		}
		d = filepath.Join(filepath.Dir(root), "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(d, "faces", "LABELS.tsv")); err != nil {
		return "", fmt.Errorf("%w: %v", ErrMissing, err)
	}
	return d, nil
}

// RepoRoot returns the directory holding go.mod.
func RepoRoot() (string, error) { return repoRoot() }

func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("go.mod not found above " + wd)
		}
	}
}

// ProbePath is the 640x480 one-face probe used by latency benchmarks.
func ProbePath() (string, error) {
	d, err := Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "probe-640x480.jpg"), nil
}

// Photos reads faces/LABELS.tsv, in file-name order.
func Photos() ([]Photo, error) {
	d, err := Dir()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(d, "faces")
	f, err := os.Open(filepath.Join(dir, "LABELS.tsv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var photos []Photo
	sc := bufio.NewScanner(f)
	for line := 0; sc.Scan(); line++ {
		if line == 0 || strings.TrimSpace(sc.Text()) == "" {
			continue // header
		}
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 3 {
			return nil, fmt.Errorf("LABELS.tsv line %d: want file, identity, faces", line+1)
		}
		n, err := strconv.Atoi(cols[2])
		if err != nil {
			return nil, fmt.Errorf("LABELS.tsv line %d: faces: %w", line+1, err)
		}
		p := Photo{File: cols[0], Path: filepath.Join(dir, cols[0]), Identity: cols[1], Faces: n}
		if len(cols) > 3 {
			p.Note = cols[3]
		}
		photos = append(photos, p)
	}
	return photos, sc.Err()
}
