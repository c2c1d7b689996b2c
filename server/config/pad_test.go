package config

import (
	"strings"
	"testing"
)

// The XML API enforces by default and the compatibility APIs report; both
// are settable and an unknown policy is refused at start-up.
func TestPADPolicySettings(t *testing.T) {
	c, _, err := Load(nil, env(nil), nil)
	if err != nil || c.PAD.Policy != "enforce" || c.PAD.CompatPolicy != "report" {
		t.Fatalf("defaults: %v %+v", err, c.PAD)
	}
	c, _, err = Load([]string{"-pad-policy", "report"}, env(map[string]string{"VIZOR_COMPAT_PAD_POLICY": "enforce_strict"}), nil)
	if err != nil || c.PAD.Policy != "report" || c.PAD.CompatPolicy != "enforce_strict" {
		t.Fatalf("set: %v %+v", err, c.PAD)
	}
	_, _, err = Load([]string{"-compat-pad-policy", "lenient"}, env(nil), nil)
	if err == nil || !strings.Contains(err.Error(), "compat_pad_policy") {
		t.Fatalf("unknown policy: %v", err)
	}
}
