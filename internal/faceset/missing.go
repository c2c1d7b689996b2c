package faceset

import (
	"os"
	"path/filepath"
	"testing"
)

// RequireEnv names the environment variable that turns a missing-data skip
// into a failure. `make test` sets it, so a run there cannot pass by
// skipping the tests it exists for.
const RequireEnv = "VIZOR_REQUIRE_DATA"

// Missing skips t because something it needs (the shared photos, the
// fetched models) is absent, or fails it when VIZOR_REQUIRE_DATA=1.
func Missing(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s: %v (%s=1: required here)", what, err, RequireEnv)
	}
	t.Skipf("skipping: %s: %v", what, err)
}

// TestDirs is the shared data directory and the repository's models
// directory for a test that needs both, skipping or failing t (see Missing)
// when either is absent.
func TestDirs(t testing.TB) (shared, models string) {
	t.Helper()
	shared, err := Dir()
	if err != nil {
		Missing(t, "labelled photos", err)
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	models = filepath.Join(root, "models")
	if _, err := os.Stat(filepath.Join(models, "manifest.json")); err != nil {
		Missing(t, "models (run `make models`)", err)
	}
	return shared, models
}
