package bulk

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSubjectFromName(t *testing.T) {
	for _, c := range []struct{ name, trim, stem string }{
		{"jimin3.jpg", "jimin", "jimin3"},
		{"jimin.jpg", "jimin", "jimin"},
		{"ann_02.png", "ann", "ann_02"},
		{"bob-smith 7.JPEG", "bob-smith", "bob-smith 7"},
		{"12345.jpg", "12345", "12345"},
	} {
		if got := SubjectFromName(c.name, RuleTrimDigits); got != c.trim {
			t.Errorf("trim-digits %s: %q, want %q", c.name, got, c.trim)
		}
		if got := SubjectFromName(c.name, RuleStem); got != c.stem {
			t.Errorf("stem %s: %q, want %q", c.name, got, c.stem)
		}
	}
	if _, err := ParseRule("nope"); err == nil {
		t.Error("unknown rule accepted")
	}
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestListFolder(t *testing.T) {
	d := t.TempDir()
	for _, p := range []string{"jimin.jpg", "jimin2.JPG", "LABELS.tsv", ".hidden.jpg", "people/ann/1.png", "people/ann/x.txt", ".cache/a.jpg", "bob/b.webp"} {
		write(t, filepath.Join(d, p), "x")
	}
	items, err := List(d, RuleTrimDigits)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, it := range items {
		rel, _ := filepath.Rel(d, it.Path)
		got[filepath.ToSlash(rel)] = it.Subject
	}
	want := map[string]string{"jimin.jpg": "jimin", "jimin2.JPG": "jimin", "people/ann/1.png": "people", "bob/b.webp": "bob"}
	if len(got) != len(want) {
		t.Fatalf("items %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: subject %q, want %q", k, got[k], v)
		}
	}
}

func TestListCSV(t *testing.T) {
	d := t.TempDir()
	write(t, filepath.Join(d, "list.csv"), "path,subject,badge\nphotos/a.jpg,alice,42\n/abs/b.jpg, bob\n\n")
	items, err := List(filepath.Join(d, "list.csv"), RuleStem)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Path != filepath.Join(d, "photos/a.jpg") || items[0].Subject != "alice" ||
		len(items[0].Meta) != 1 || items[0].Meta[0] != "42" || items[1].Path != "/abs/b.jpg" || items[1].Subject != "bob" {
		t.Fatalf("items %+v", items)
	}
	write(t, filepath.Join(d, "bad.csv"), "a.jpg,alice\nb.jpg\n")
	if _, err := List(filepath.Join(d, "bad.csv"), RuleStem); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("a line without a subject: %v", err)
	}
}

func TestJournalResumesAndIgnoresATornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	a := Entry{Server: "http://x", Partition: "p", Subject: "ann", SHA256: "aa"}
	b := Entry{Server: "http://x", Partition: "p", Subject: "bob", SHA256: "bb"}
	for _, e := range []Entry{withState(a, StateSent), withState(a, StateEnrolled), withState(b, StateSent)} {
		if err := j.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"state":"enrolled","server":"http://x","partition":"p","subject":"bob","sha2`) // killed mid-line
	f.Close()
	j, err = OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if j.State(a) != StateEnrolled || j.State(b) != StateSent {
		t.Fatalf("states %q %q", j.State(a), j.State(b))
	}
	other := a
	other.Partition = "q"
	if j.State(other) != "" {
		t.Error("an entry of another partition counts")
	}
}

func withState(e Entry, s string) Entry { e.State = s; return e }

func TestProgressPlainLines(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, false, 4)
	t0 := p.start
	now := t0
	p.now = func() time.Time { return now }
	now = t0.Add(time.Second)
	p.Add("enrolled") // under the 5 s interval: nothing printed
	if buf.Len() != 0 {
		t.Fatalf("printed early: %q", buf.String())
	}
	now = t0.Add(6 * time.Second)
	p.Add("refused")
	now = t0.Add(8 * time.Second)
	p.Add("skipped")
	p.Add("enrolled") // the last one always prints
	p.Finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || strings.Contains(buf.String(), "\r") {
		t.Fatalf("lines %q", buf.String())
	}
	if !strings.HasPrefix(lines[0], "import: 2/4 (50%) 0.3 photos/s ETA 6s") ||
		!strings.Contains(lines[1], "4/4 (100%)") || !strings.Contains(lines[1], "enrolled 2, skipped 1, refused 1, failed 0") {
		t.Fatalf("lines %q", lines)
	}
	var tty bytes.Buffer
	p = NewProgress(&tty, true, 2)
	p.Add("enrolled")
	p.Add("enrolled")
	p.Finish()
	if !strings.Contains(tty.String(), "\r[##############################] 2/2") {
		t.Fatalf("bar %q", tty.String())
	}
}

func TestClassify(t *testing.T) {
	resp := func(st int, ra string) *http.Response {
		h := http.Header{}
		if ra != "" {
			h.Set("Retry-After", ra)
		}
		return &http.Response{StatusCode: st, Header: h}
	}
	if err := classify(resp(200, ""), answer{}, nil); err != nil {
		t.Fatal(err)
	}
	err := classify(resp(422, ""), answer{Code: "quality_rejected", Message: "quality 0.240 below 0.400", Gate: "quality", GateScore: 0.24, Threshold: 0.4}, nil)
	if r, ok := err.(*Refusal); !ok || r.Reason != "quality_rejected" || r.Status != 422 || r.Message != "quality 0.240 below 0.400" {
		t.Fatalf("422: %#v", err)
	}
	// A gate message without its numbers gets them.
	err = classify(resp(451, ""), answer{Code: "spoof_detected", Message: "presentation attack detected", Gate: "pad", GateScore: 0.004, Threshold: 0.01}, nil)
	if r, ok := err.(*Refusal); !ok || r.Message != "presentation attack detected (gate pad: 0.004, threshold 0.010)" {
		t.Fatalf("451: %#v", err)
	}
	if tr, ok := classify(resp(503, "3"), answer{Code: "busy"}, nil).(*Transient); !ok || tr.RetryAfter != 3*time.Second {
		t.Fatalf("503: %#v", tr)
	}
	for _, st := range []int{401, 403} {
		if _, ok := classify(resp(st, ""), answer{Code: "unauthorized"}, nil).(*Fatal); !ok {
			t.Errorf("%d is not fatal", st)
		}
	}
	if _, ok := classify(resp(404, ""), answer{Code: "not_found"}, nil).(*Fatal); !ok {
		t.Error("a wrong URL is not fatal")
	}
	if r, ok := classify(resp(404, ""), answer{Code: "subject_not_found"}, nil).(*Refusal); !ok || r.Reason != "subject_not_found" {
		t.Error("subject_not_found is not a refusal")
	}
}
