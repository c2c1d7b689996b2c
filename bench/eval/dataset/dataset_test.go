package dataset

import (
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLabels(t *testing.T) {
	d := t.TempDir()
	write(t, d, "LABELS.tsv", "file\tidentity\tfaces\tnote\nb2.jpg\tb\t1\t\na.jpg\ta\t1\t\nb.jpg\tb\t1\t\ng.jpg\t-\t10\tgroup photo\n")
	s, err := Load(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Images) != 3 || s.Images[0].File != "a.jpg" || s.Images[1].File != "b.jpg" || len(s.Skipped) != 1 {
		t.Fatalf("images %+v skipped %+v", s.Images, s.Skipped)
	}
	ps := s.AllPairs()
	gen := 0
	for _, p := range ps {
		if p.Genuine {
			gen++
		}
	}
	if len(ps) != 3 || gen != 1 {
		t.Errorf("pairs %+v", ps)
	}
	s.Exclude([]string{"b2.jpg"}, "test")
	if len(s.Images) != 2 || len(s.AllPairs()) != 1 || len(s.Identities()) != 2 {
		t.Errorf("after exclude: %+v", s.Images)
	}
}

func TestFolders(t *testing.T) {
	d := t.TempDir()
	write(t, d, "alice/1.jpg", "x")
	write(t, d, "alice/2.png", "x")
	write(t, d, "bob/1.jpg", "x")
	write(t, d, "bob/notes.txt", "x")
	s, err := Load(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Images) != 3 || s.Images[2].Identity != "bob" {
		t.Fatalf("%+v", s.Images)
	}
}

func TestPairsCSV(t *testing.T) {
	d := t.TempDir()
	p := write(t, d, "pairs.csv", "file_x,file_y,Decision\na.jpg,b.jpg,1\na.jpg,c.jpg,different\n")
	s, err := LoadPairs(p, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Images) != 3 || len(s.Pairs) != 2 || !s.Pairs[0].Genuine || s.Pairs[1].Genuine || s.Pairs[1].A != 0 {
		t.Errorf("%+v %+v", s.Images, s.Pairs)
	}
}

func TestPairsLFW(t *testing.T) {
	d := t.TempDir()
	p := write(t, d, "pairs.txt", "1\t2\nAbel_Pacheco\t1\t4\nAbdel_Madi_Shabneh\t1\tDean_Barker\t1\n")
	s, err := LoadPairs(p, "/lfw")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Pairs) != 2 || !s.Pairs[0].Genuine || s.Pairs[1].Genuine {
		t.Fatalf("%+v", s.Pairs)
	}
	if got := s.Images[1].Path; got != "/lfw/Abel_Pacheco/Abel_Pacheco_0004.jpg" {
		t.Errorf("path %s", got)
	}
}
