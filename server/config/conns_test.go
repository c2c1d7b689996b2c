package config

import "testing"

func TestConnLimitSettings(t *testing.T) {
	c := Default()
	if c.MaxConns != 0 || c.MaxConnsPerIP != 256 {
		t.Fatalf("defaults: max_conns %d, max_conns_per_ip %d", c.MaxConns, c.MaxConnsPerIP)
	}
	c, _, err := Load([]string{"-max-conns", "5000", "-max-conns-per-ip", "0"}, env(nil), nil)
	if err != nil || c.MaxConns != 5000 || c.MaxConnsPerIP != 0 {
		t.Fatalf("flags: %v %d %d", err, c.MaxConns, c.MaxConnsPerIP)
	}
	if _, _, err := Load(nil, env(map[string]string{"VIZOR_MAX_CONNS_PER_IP": "-1"}), nil); err == nil {
		t.Fatal("negative max_conns_per_ip accepted")
	}
}
