package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite README.md's settings table from Markdown()")

const (
	tableBegin = "<!-- settings table: generated from server/config (Markdown); `go test ./server/config -run TestREADMESettingsTable -update-readme` rewrites it -->\n"
	tableEnd   = "<!-- end of settings table -->\n"
)

// README.md holds exactly the table of Settings, so a setting cannot be
// added, renamed or re-described without the README following.
func TestREADMESettingsTable(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, tableBegin), strings.Index(doc, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no settings table between %q and %q", tableBegin, tableEnd)
	}
	got, want := doc[i+len(tableBegin):j], Markdown()
	if got == want {
		return
	}
	if *updateReadme {
		if err := os.WriteFile(path, []byte(doc[:i+len(tableBegin)]+want+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for k := 0; k < max(len(gl), len(wl)); k++ {
		var g, w string
		if k < len(gl) {
			g = gl[k]
		}
		if k < len(wl) {
			w = wl[k]
		}
		if g != w {
			t.Fatalf("README.md's settings table differs from the settings (run go test ./server/config -run TestREADMESettingsTable -update-readme); first difference, line %d:\nREADME:   %s\nsettings: %s", k+1, g, w)
		}
	}
}
