package faceset

import (
	"os"
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
