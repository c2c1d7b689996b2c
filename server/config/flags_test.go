package config

import (
	"strings"
	"testing"
)

func TestBooleanSpellings(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "TRUE": true, "1": true, "yes": true, "Yes": true, "on": true, " on ": true,
		"false": false, "0": false, "no": false, "NO": false, "off": false} {
		got, err := ParseBool(v)
		if err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v", v, got, err)
		}
	}
	for _, v := range []string{"", "maybe", "2", "enabled"} {
		if _, err := ParseBool(v); err == nil {
			t.Errorf("ParseBool(%q) accepted", v)
		}
	}
	// In every place a setting is read: flag, environment, file.
	c, _, err := Load([]string{"-compreface", "-facenet512=yes", "-keep-images=off"}, env(map[string]string{"VIZOR_MASSHEALTH": "on", "VIZOR_ALLOW_PUBLIC": "1"}), nil)
	if err != nil || !c.Compat.CompreFace || !c.Compat.Facenet512 || !c.Compat.MassHealth || c.KeepImages || !c.AllowPublic {
		t.Fatalf("%v %+v", err, c.Compat)
	}
	// A bare switch does not swallow the next argument.
	c, fs, err := Load([]string{"-masshealth", "extra"}, env(nil), nil)
	if err != nil || !c.Compat.MassHealth || fs.Arg(0) != "extra" {
		t.Fatalf("%v %+v %v", err, c.Compat, fs.Args())
	}
	if _, _, err := Load([]string{"-compreface=maybe"}, env(nil), nil); err == nil || !strings.Contains(err.Error(), "yes/no") {
		t.Fatalf("bad spelling: %v", err)
	}
	if _, _, err := Load(nil, env(map[string]string{"VIZOR_FACENET512": "si"}), nil); err == nil {
		t.Fatal("bad env spelling accepted")
	}
	// Non-switches still need a value.
	if _, _, err := Load([]string{"-addr"}, env(nil), nil); err == nil {
		t.Fatal("-addr without a value accepted")
	}
}

func TestAllAPIs(t *testing.T) {
	for _, args := range [][]string{{"-all-apis"}, {"-all-apis", "-compreface=false"}} {
		c, _, err := Load(args, env(nil), nil)
		if err != nil || !c.Compat.CompreFace || !c.Compat.Facenet512 || !c.Compat.MassHealth {
			t.Fatalf("%v: %v %+v", args, err, c.Compat)
		}
	}
	c, _, err := Load(nil, env(map[string]string{"VIZOR_ALL_APIS": "yes"}), nil)
	if err != nil || !c.Compat.CompreFace || !c.Compat.Facenet512 || !c.Compat.MassHealth {
		t.Fatalf("env: %v %+v", err, c.Compat)
	}
	c, _, _ = Load(nil, env(nil), nil)
	if c.Compat.CompreFace || c.Compat.Facenet512 || c.Compat.MassHealth {
		t.Fatalf("off by default: %+v", c.Compat)
	}
}
