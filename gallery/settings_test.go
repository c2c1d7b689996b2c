package gallery

import (
	"errors"
	"testing"
)

// A partition setting survives a close and a crash, may be set before the
// partition exists, outlives DeletePartition, and "" deletes it.
func TestPartitionSettingDurable(t *testing.T) {
	dir := t.TempDir()
	g := mustOpen(t, Config{Dir: dir})
	if v, err := g.PartitionSetting("kiosk", "pad_policy"); err != nil || v != "" {
		t.Fatalf("unset setting = %q, %v", v, err)
	}
	if err := g.SetPartitionSetting("kiosk", "pad_policy", "report"); err != nil {
		t.Fatal(err)
	}
	if err := g.SetPartitionSetting("kiosk", "other", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Enrol("kiosk", "alice", tmpl("m", unit(1, 8)), EnrolOptions{}); err != nil {
		t.Fatal(err)
	}
	g.crash()
	g = mustOpen(t, Config{Dir: dir})
	if v, _ := g.PartitionSetting("kiosk", "pad_policy"); v != "report" {
		t.Fatalf("after a crash: %q, want report", v)
	}
	if err := g.DeletePartition("kiosk"); err != nil {
		t.Fatal(err)
	}
	if v, _ := g.PartitionSetting("kiosk", "pad_policy"); v != "report" {
		t.Fatalf("after DeletePartition: %q, want report (settings belong to the name)", v)
	}
	if err := g.SetPartitionSetting("kiosk", "pad_policy", ""); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	g = mustOpen(t, Config{Dir: dir})
	defer g.Close()
	if v, _ := g.PartitionSetting("kiosk", "pad_policy"); v != "" {
		t.Fatalf("cleared setting = %q", v)
	}
	if v, _ := g.PartitionSetting("kiosk", "other"); v != "x" {
		t.Fatalf("other key = %q, want x", v)
	}
	if err := g.SetPartitionSetting("bad name", "pad_policy", "off"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("bad partition name: %v", err)
	}
	if err := g.SetPartitionSetting("kiosk", "", "off"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("empty key: %v", err)
	}
}
