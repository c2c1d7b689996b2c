// Package bulk is `vizor import` and `vizor export`: loading a folder or a
// CSV list of photos into a running server through its enrol endpoint (so
// one node or a load-balanced many), with bounded concurrency, a progress
// line, a journal that makes a re-run skip what is already enrolled, and a
// CSV report of refusals; and writing a gallery's templates and subjects as
// JSON lines.
package bulk

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// Item is one photo to enrol.
type Item struct {
	Path    string
	Subject string
	Meta    []string // extra CSV columns, kept in the journal
}

// imageExts are the file types a folder import picks up (what the engine
// decodes); anything else in the folder (a LABELS.tsv, a README) is left.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".webp": true,
	".bmp": true, ".tif": true, ".tiff": true, ".gif": true}

// SubjectRule names how a folder import derives subjects from file names.
type SubjectRule string

// Subject rules.
const (
	// RuleTrimDigits: the file name without its extension and without
	// trailing digits and separators (jimin3.jpg, ann_02.png: jimin, ann),
	// so several photos of one person share a subject.
	RuleTrimDigits SubjectRule = "trim-digits"
	// RuleStem: the file name without its extension, whole.
	RuleStem SubjectRule = "stem"
)

// ParseRule checks a -subject-rule value.
func ParseRule(s string) (SubjectRule, error) {
	switch SubjectRule(s) {
	case RuleTrimDigits, RuleStem:
		return SubjectRule(s), nil
	}
	return "", fmt.Errorf("subject rule %q: use %s or %s", s, RuleTrimDigits, RuleStem)
}

// List reads the items of src: a folder (walked recursively; a photo inside
// a sub-folder belongs to the subject named by its first-level folder, a
// photo at the top to the subject its file name gives under rule) or a CSV
// file (path,subject[,meta...]; relative paths are relative to the CSV's
// folder; a first line "path,subject,..." is a header).
func List(src string, rule SubjectRule) ([]Item, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return listDir(src, rule)
	}
	return listCSV(src)
}

func listDir(root string, rule SubjectRule) ([]Item, error) {
	var items []Item
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if p != root && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !imageExts[strings.ToLower(filepath.Ext(name))] {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		subject := SubjectFromName(name, rule)
		if len(parts) > 1 {
			subject = parts[0]
		}
		items = append(items, Item{Path: p, Subject: subject})
		return nil
	})
	sort.Slice(items, func(i, j int) bool { return items[i].Path < items[j].Path })
	return items, err
}

// SubjectFromName applies rule to a file name.
func SubjectFromName(name string, rule SubjectRule) string {
	stem := strings.TrimSuffix(name, filepath.Ext(name))
	if rule == RuleStem {
		return stem
	}
	trimmed := strings.TrimRightFunc(stem, func(r rune) bool {
		return unicode.IsDigit(r) || r == '_' || r == '-' || r == '.' || r == ' '
	})
	if trimmed == "" {
		return stem // a name of digits only is its own subject
	}
	return trimmed
}

func listCSV(path string) ([]Item, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	base := filepath.Dir(path)
	var items []Item
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if line == 1 && len(rec) >= 2 && strings.EqualFold(rec[0], "path") && strings.EqualFold(rec[1], "subject") {
			continue
		}
		if len(rec) < 2 || strings.TrimSpace(rec[0]) == "" || strings.TrimSpace(rec[1]) == "" {
			return nil, fmt.Errorf("%s line %d: want path,subject[,meta...]", path, line)
		}
		p := strings.TrimSpace(rec[0])
		if !filepath.IsAbs(p) {
			p = filepath.Join(base, p)
		}
		items = append(items, Item{Path: p, Subject: strings.TrimSpace(rec[1]), Meta: rec[2:]})
	}
	return items, nil
}
