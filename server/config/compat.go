package config

import (
	"fmt"
	"net"
)

// Compat configures the drop-in compatibility listeners: the CompreFace REST
// API, the Facenet512 reference API and the MassHealth face verification
// API. Each runs on its own listener, in the same process, over the same
// engine and gallery as the main API. All are off by default.
type Compat struct {
	CompreFace       bool
	CompreFaceAddr   string
	CompreFaceKeys   string // keys file; "" is <data_dir>/compreface/keys.json
	Facenet512       bool
	Facenet512Addr   string
	MassHealth       bool
	MassHealthAddr   string
	AllAPIs          bool // all_apis: every compatibility listener on
	CompatMaxImageMB int  // CompreFace's per-image limit (its document's 5 MB); Facenet512 and MassHealth have max_body_bytes
}

func init() {
	Settings = append(Settings,
		mk("all_apis", "false", "serve all four APIs: the XML API and the CompreFace, Facenet512 and MassHealth listeners, each on its address (on: compreface, facenet512 and masshealth are on whatever they say)", boolean, func(c *Config) *bool { return &c.Compat.AllAPIs }),
		mk("compreface", "false", "serve the CompreFace REST API (x-api-key services; keys from `vizor compreface-keys`)", boolean, func(c *Config) *bool { return &c.Compat.CompreFace }),
		mk("compreface_addr", "127.0.0.1:8000", "CompreFace REST API listen address", str, func(c *Config) *string { return &c.Compat.CompreFaceAddr }),
		mk("compreface_keys_file", "", "CompreFace API keys file (JSON, written by `vizor compreface-keys`); empty: <data_dir>/compreface/keys.json", str, func(c *Config) *string { return &c.Compat.CompreFaceKeys }),
		mk("facenet512", "false", "serve the Facenet512 reference API (no authentication: loopback unless allow_public)", boolean, func(c *Config) *bool { return &c.Compat.Facenet512 }),
		mk("facenet512_addr", "127.0.0.1:5056", "Facenet512 reference API listen address", str, func(c *Config) *string { return &c.Compat.Facenet512Addr }),
		mk("masshealth", "false", "serve the MassHealth face verification API (no authentication: loopback unless allow_public)", boolean, func(c *Config) *bool { return &c.Compat.MassHealth }),
		mk("masshealth_addr", "127.0.0.1:9002", "MassHealth face verification API listen address", str, func(c *Config) *string { return &c.Compat.MassHealthAddr }),
		mk("compat_max_image_mb", "5", "largest image (MB, decoded from multipart or base64) the CompreFace API accepts (its document's 5 MB); Facenet512 and MassHealth document no limit and take images up to max_body_bytes", integer, func(c *Config) *int { return &c.Compat.CompatMaxImageMB }),
	)
}

// applyAllAPIs turns every compatibility listener on when all_apis is.
func (c *Config) applyAllAPIs() {
	if c.Compat.AllAPIs {
		c.Compat.CompreFace, c.Compat.Facenet512, c.Compat.MassHealth = true, true, true
	}
}

// ValidateCompat checks the compatibility settings (called by the listeners
// at start-up).
func (c *Config) ValidateCompat() error {
	for _, a := range []struct {
		on   bool
		name string
		addr string
	}{{c.Compat.CompreFace, "compreface_addr", c.Compat.CompreFaceAddr},
		{c.Compat.Facenet512, "facenet512_addr", c.Compat.Facenet512Addr},
		{c.Compat.MassHealth, "masshealth_addr", c.Compat.MassHealthAddr}} {
		if !a.on {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
	}
	if c.Compat.CompatMaxImageMB < 1 {
		return fmt.Errorf("compat_max_image_mb must be >= 1")
	}
	return nil
}
