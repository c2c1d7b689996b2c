// Package dataset reads evaluation inputs: labelled images (a labels file
// such as LABELS.tsv, or one folder per person) and explicit comparison
// lists (a "file_x,file_y,Decision" CSV or the LFW pairs.txt format).
package dataset

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Image is one labelled image.
type Image struct {
	File     string `json:"file"`     // name relative to the dataset root
	Path     string `json:"-"`        // full path
	Identity string `json:"identity"` // "" when unknown (pairs-only input)
	Faces    int    `json:"faces,omitempty"`
	Note     string `json:"note,omitempty"`
}

// Pair is one comparison: indices into Set.Images and the ground truth.
type Pair struct {
	A, B    int
	Genuine bool
}

// Set is an evaluation input. When Pairs is nil every pair of images with a
// known identity is compared (genuine when the identities agree).
type Set struct {
	Root    string
	Source  string // how it was read, for the report
	Images  []Image
	Pairs   []Pair
	Skipped []Skip // images left out, and why
}

// Skip records an image left out of the evaluation.
type Skip struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

var imageExt = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".bmp": true, ".webp": true}

// Load reads a dataset from path: a labels file (.tsv/.csv/.txt with file
// and identity columns), or a directory holding LABELS.tsv, or a directory
// with one sub-folder of images per identity.
func Load(path string) (*Set, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return LoadLabels(path)
	}
	for _, name := range []string{"LABELS.tsv", "labels.tsv", "LABELS.csv", "labels.csv"} {
		if _, err := os.Stat(filepath.Join(path, name)); err == nil {
			return LoadLabels(filepath.Join(path, name))
		}
	}
	return LoadFolders(path)
}

// LoadLabels reads a labels file: one image per line, columns file,
// identity[, faces[, note]] separated by tabs (or commas in a .csv). A header
// line starting with "file" is skipped; "-" or an empty identity marks an
// image with no single identity (a group photo), which is skipped.
func LoadLabels(file string) (*Set, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	root := filepath.Dir(file)
	set := &Set{Root: root, Source: "labels file " + filepath.Base(file)}
	sep := "\t"
	if strings.EqualFold(filepath.Ext(file), ".csv") {
		sep = ","
	}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, sep)
		if n == 1 && strings.EqualFold(strings.TrimSpace(cols[0]), "file") {
			continue
		}
		if len(cols) < 2 {
			return nil, fmt.Errorf("%s:%d: want file%sidentity", file, n, sep)
		}
		img := Image{File: strings.TrimSpace(cols[0]), Identity: strings.TrimSpace(cols[1])}
		img.Path = filepath.Join(root, img.File)
		if len(cols) > 2 {
			img.Faces, _ = strconv.Atoi(strings.TrimSpace(cols[2]))
		}
		if len(cols) > 3 {
			img.Note = strings.TrimSpace(cols[3])
		}
		if img.Identity == "-" || img.Identity == "" {
			set.Skipped = append(set.Skipped, Skip{img.File, "no single identity (group photo): " + img.Note})
			continue
		}
		set.Images = append(set.Images, img)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	set.sortImages()
	return set, nil
}

// LoadFolders reads root/<identity>/<image> (one folder per person).
func LoadFolders(root string) (*Set, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	set := &Set{Root: root, Source: "one folder per identity"}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(root, e.Name()))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if f.IsDir() || !imageExt[strings.ToLower(filepath.Ext(f.Name()))] {
				continue
			}
			rel := filepath.Join(e.Name(), f.Name())
			set.Images = append(set.Images, Image{File: rel, Path: filepath.Join(root, rel), Identity: e.Name()})
		}
	}
	if len(set.Images) == 0 {
		return nil, fmt.Errorf("%s: no labels file and no identity folders with images", root)
	}
	set.sortImages()
	return set, nil
}

func (s *Set) sortImages() {
	sort.SliceStable(s.Images, func(i, j int) bool { return s.Images[i].File < s.Images[j].File })
}

// Exclude drops images by file name (base name or path relative to the
// root), recording why. It must run before pairs are attached.
func (s *Set) Exclude(files []string, reason string) {
	if len(files) == 0 {
		return
	}
	drop := map[string]bool{}
	for _, f := range files {
		drop[f] = true
	}
	kept := s.Images[:0]
	for _, img := range s.Images {
		if drop[img.File] || drop[filepath.Base(img.File)] {
			s.Skipped = append(s.Skipped, Skip{img.File, reason})
			continue
		}
		kept = append(kept, img)
	}
	s.Images = kept
}

// Identities returns the distinct identities, sorted.
func (s *Set) Identities() []string {
	seen := map[string]bool{}
	var ids []string
	for _, img := range s.Images {
		if img.Identity != "" && !seen[img.Identity] {
			seen[img.Identity] = true
			ids = append(ids, img.Identity)
		}
	}
	sort.Strings(ids)
	return ids
}

// AllPairs returns every unordered pair of labelled images (i < j).
func (s *Set) AllPairs() []Pair {
	var ps []Pair
	for i := range s.Images {
		for j := i + 1; j < len(s.Images); j++ {
			a, b := s.Images[i], s.Images[j]
			if a.Identity == "" || b.Identity == "" {
				continue
			}
			ps = append(ps, Pair{A: i, B: j, Genuine: a.Identity == b.Identity})
		}
	}
	return ps
}

// ComparisonPairs returns the explicit pairs when there are any, else
// AllPairs.
func (s *Set) ComparisonPairs() []Pair {
	if s.Pairs != nil {
		return s.Pairs
	}
	return s.AllPairs()
}

// LoadPairs reads an explicit comparison list and returns a Set whose images
// are the files the pairs name (relative to root). The format is detected:
// a CSV of file_x,file_y,Decision (header optional; Decision is 1/0,
// true/false, same/different, genuine/impostor, match/nonmatch or y/n), or
// LFW's pairs.txt (a count line such as "300" or "10 300", then
// "name n1 n2" for matched and "name1 n1 name2 n2" for mismatched pairs,
// images at root/name/name_%04d.jpg).
func LoadPairs(file, root string) (*Set, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if root == "" {
		root = filepath.Dir(file)
	}
	b := &builder{set: &Set{Root: root, Pairs: []Pair{}}, index: map[string]int{}}
	text := string(raw)
	if looksLFW(text) {
		b.set.Source = "LFW pairs file " + filepath.Base(file)
		err = b.lfw(text)
	} else {
		b.set.Source = "pairs CSV " + filepath.Base(file)
		err = b.csv(text)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(b.set.Pairs) == 0 {
		return nil, fmt.Errorf("%s: no pairs", file)
	}
	return b.set, nil
}

type builder struct {
	set   *Set
	index map[string]int
}

func (b *builder) image(rel, identity string) int {
	if i, ok := b.index[rel]; ok {
		return i
	}
	b.set.Images = append(b.set.Images, Image{File: rel, Path: filepath.Join(b.set.Root, rel), Identity: identity})
	b.index[rel] = len(b.set.Images) - 1
	return len(b.set.Images) - 1
}

func looksLFW(text string) bool {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	fs := strings.Fields(line)
	if len(fs) == 0 || len(fs) > 2 || strings.Contains(line, ",") {
		return false
	}
	for _, f := range fs {
		if _, err := strconv.Atoi(f); err != nil {
			return false
		}
	}
	return true
}

func (b *builder) lfw(text string) error {
	lines := strings.Split(text, "\n")
	for n, line := range lines[1:] {
		fs := strings.Fields(line)
		lfwName := func(name, num string) (string, error) {
			k, err := strconv.Atoi(num)
			if err != nil {
				return "", fmt.Errorf("line %d: image number %q", n+2, num)
			}
			return filepath.Join(name, fmt.Sprintf("%s_%04d.jpg", name, k)), nil
		}
		switch len(fs) {
		case 0:
		case 3:
			x, err := lfwName(fs[0], fs[1])
			if err != nil {
				return err
			}
			y, err := lfwName(fs[0], fs[2])
			if err != nil {
				return err
			}
			b.set.Pairs = append(b.set.Pairs, Pair{b.image(x, fs[0]), b.image(y, fs[0]), true})
		case 4:
			x, err := lfwName(fs[0], fs[1])
			if err != nil {
				return err
			}
			y, err := lfwName(fs[2], fs[3])
			if err != nil {
				return err
			}
			b.set.Pairs = append(b.set.Pairs, Pair{b.image(x, fs[0]), b.image(y, fs[2]), false})
		default:
			return fmt.Errorf("line %d: want 'name n1 n2' or 'name1 n1 name2 n2'", n+2)
		}
	}
	return nil
}

// ParseDecision reads a same/different label.
func ParseDecision(s string) (genuine bool, err error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "t", "yes", "y", "same", "genuine", "match", "mated", "positive":
		return true, nil
	case "0", "-1", "false", "f", "no", "n", "different", "diff", "impostor", "imposter", "nonmatch", "non-match", "non-mated", "nonmated", "negative":
		return false, nil
	}
	return false, fmt.Errorf("decision %q is not same/different", s)
}

func (b *builder) csv(text string) error {
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	r.Comment = '#'
	r.TrimLeadingSpace = true
	for n := 1; ; n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(rec) < 3 {
			return fmt.Errorf("line %d: want file_x,file_y,Decision", n)
		}
		g, err := ParseDecision(rec[2])
		if err != nil {
			if n == 1 {
				continue // header
			}
			return fmt.Errorf("line %d: %w", n, err)
		}
		x, y := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		b.set.Pairs = append(b.set.Pairs, Pair{b.image(x, ""), b.image(y, ""), g})
	}
}
