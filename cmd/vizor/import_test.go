package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"vizor/internal/vizorproc"
)

const importKey = "import-test-key-19c2"

// startServe runs `vizor serve` with one API key on a free loopback port.
func startServe(t *testing.T, bin, models, data string) (string, *vizorproc.Proc) {
	t.Helper()
	var url string
	var p *vizorproc.Proc
	err := vizorproc.RetryPortClash(func() error {
		addr, err := vizorproc.FreeAddr()
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, "serve", "-addr", addr, "-data-dir", data, "-models-dir", models, "-log-level", "warn")
		cmd.Env = append(os.Environ(), "VIZOR_API_KEYS="+importKey, "VIZOR_CONFIG=")
		url = "http://" + addr
		p, err = vizorproc.Start(cmd, 90*time.Second, vizorproc.Healthy(url+"/health"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return url, p
}

// templates is /stats' template count of a partition.
func templates(t *testing.T, url, partition string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/stats", nil)
	req.Header.Set("x-api-key", importKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Templates map[string]int `json:"templates_by_partition"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Templates[partition]
}

var enrolledLine = regexp.MustCompile(`(?m)^  enrolled: +(\d+)`)

// The shared photos imported twice: the second run enrols nothing new and
// says so; the refusal report names the profile photo with its reason; an
// import killed mid-way resumes without enrolling anything twice; export
// writes one line per template.
func TestImportTwiceKilledResumeAndExport(t *testing.T) {
	bin, models, faces := vizorBinary(t)
	work := t.TempDir()
	data := filepath.Join(work, "data")
	url, srv := startServe(t, bin, models, data)
	stopped := false
	defer func() {
		if !stopped {
			srv.Stop(30 * time.Second)
		}
	}()
	imp := func(partition string, extra ...string) (string, string, int) {
		args := append([]string{"import", "-server", url, "-api-key", importKey, "-partition", partition,
			"-journal", filepath.Join(work, partition+".journal"), "-report", filepath.Join(work, partition+".csv")}, extra...)
		return runVizor(t, bin, append(args, faces)...)
	}

	// A wrong key stops the import at its first answer.
	out, errOut, code := runVizor(t, bin, "import", "-server", url, "-api-key", "wrong", "-partition", "imp",
		"-journal", filepath.Join(work, "imp.journal"), "-report", filepath.Join(work, "imp.csv"), faces)
	if code != 1 || !strings.Contains(errOut, "401 unauthorized") || !strings.Contains(out, "not done:") {
		t.Fatalf("wrong key: exit %d\n%s\n%s", code, out, errOut)
	}

	out, errOut, code = imp("imp", "-c", "2")
	if code != 0 {
		t.Fatalf("first import: exit %d\n%s\n%s", code, out, errOut)
	}
	m := enrolledLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("first import: no enrolled count:\n%s", out)
	}
	enrolled, _ := strconv.Atoi(m[1])
	if enrolled < 25 || templates(t, url, "imp") != enrolled {
		t.Fatalf("first import enrolled %d, server has %d:\n%s", enrolled, templates(t, url, "imp"), out)
	}
	// Not a terminal: plain progress lines, no carriage returns.
	if !strings.Contains(errOut, "import: ") || !strings.Contains(errOut, "photos/s ETA") || strings.Contains(errOut, "\r") {
		t.Errorf("progress on a pipe: %q", errOut)
	}
	rows := readCSV(t, filepath.Join(work, "imp.csv"))
	var profile []string
	for _, r := range rows[1:] {
		if filepath.Base(r[0]) == "jimin3.jpg" {
			profile = r
		}
	}
	if profile == nil || profile[1] != "jimin" || profile[2] != "quality_rejected" || profile[3] != "422" || !strings.Contains(profile[4], "quality") {
		t.Fatalf("report has no jimin3.jpg quality refusal: %v", rows)
	}
	refused := len(rows) - 1

	out, errOut, code = imp("imp", "-c", "2")
	want := "enrolled:          0 (nothing new: " + strconv.Itoa(enrolled) + " already enrolled)"
	if code != 0 || !strings.Contains(out, want) || templates(t, url, "imp") != enrolled {
		t.Fatalf("second import: exit %d, want %q:\n%s\n%s", code, want, out, errOut)
	}
	if r := readCSV(t, filepath.Join(work, "imp.csv")); len(r)-1 != refused {
		t.Errorf("second report: %d refusals, first %d", len(r)-1, refused)
	}

	// Killed after a few photos (one at a time), then run again.
	journal := filepath.Join(work, "kill.journal")
	cmd := exec.Command(bin, "import", "-server", url, "-api-key", importKey, "-partition", "kill", "-c", "1",
		"-journal", journal, "-report", filepath.Join(work, "kill.csv"), faces)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for journalCount(journal, `"state":"enrolled"`) < 5 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the import to kill enrolled nothing in 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	before := templates(t, url, "kill")
	if before >= enrolled {
		t.Fatalf("killed too late: %d of %d enrolled", before, enrolled)
	}
	out, errOut, code = imp("kill", "-c", "2")
	if code != 0 {
		t.Fatalf("resumed import: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := templates(t, url, "kill"); got != enrolled {
		t.Fatalf("after the resume the partition has %d templates, the uninterrupted import %d (killed at %d):\n%s", got, enrolled, before, out)
	}
	if !strings.Contains(out, "already enrolled:  ") || strings.Contains(out, "already enrolled:  0 ") {
		t.Errorf("the resume skipped nothing:\n%s", out)
	}

	// A journal that saw every photo sent and none answered (a run killed
	// at the worst moments): the server is asked about each, confirms every
	// enrolled one, and nothing is enrolled twice.
	b, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	var sent []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, `"state":"sent"`) {
			sent = append(sent, l)
		}
	}
	if err := os.WriteFile(journal, []byte(strings.Join(sent, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = imp("kill", "-c", "2")
	want = "enrolled:          0 (nothing new: " + strconv.Itoa(enrolled) + " already enrolled)"
	if code != 0 || !strings.Contains(out, want) || templates(t, url, "kill") != enrolled {
		t.Fatalf("import over sent-only journal: exit %d, want %q, %d templates:\n%s\n%s", code, want, templates(t, url, "kill"), out, errOut)
	}

	// Export reads the store once the server is stopped.
	if err := srv.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	stopped = true
	exp := filepath.Join(work, "imp.jsonl")
	if _, errOut, code := runVizor(t, bin, "export", "-data-dir", data, "-partition", "imp", "-o", exp); code != 0 || !strings.Contains(errOut, "export: "+strconv.Itoa(enrolled)+" templates") {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	f, err := os.Open(exp)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	lines, subjects := 0, map[string]bool{}
	for sc.Scan() {
		var r struct {
			Partition, Subject, TemplateID, Model string
			Dim                                   int
			Template                              []float32
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Partition != "imp" || r.Subject == "" || r.Model == "" || r.Dim != 512 || len(r.Template) != 512 {
			t.Fatalf("export line %d: %s", lines, sc.Bytes()[:200])
		}
		lines++
		subjects[r.Subject] = true
	}
	if lines != enrolled || !subjects["jimin"] || subjects["jimin3"] {
		t.Fatalf("export: %d lines (want %d), subjects %v", lines, enrolled, subjects)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) == 0 || strings.Join(rows[0], ",") != "path,subject,reason,status,message" {
		t.Fatalf("report %s: %v %v", path, rows, err)
	}
	return rows
}

func journalCount(path, sub string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), sub)
}
