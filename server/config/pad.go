package config

import "fmt"

// PAD holds the default PAD policies: what the presentation attack
// detection stage does on a partition that has no policy of its own (see
// README, "PAD policy"). The XML API's document has a 451 for spoofs, so it
// enforces; CompreFace, Facenet512 and MassHealth have no PAD in their
// originals, so they report.
type PAD struct {
	Policy       string // the XML API's default
	CompatPolicy string // the compatibility APIs' default
}

// padPolicies are the policy names (service.PADPolicies; config does not
// import the service).
var padPolicies = []string{"off", "report", "enforce", "enforce_strict"}

func init() {
	Settings = append(Settings,
		mk("pad_policy", "enforce", "PAD policy of the XML API on partitions without their own: enforce (451 spoof_detected below pad_threshold), enforce_strict (also refuses faces PAD cannot judge: greyscale, too small), report (score and outcome returned, nothing refused) or off", str, func(c *Config) *string { return &c.PAD.Policy }),
		mk("compat_pad_policy", "report", "PAD policy of the CompreFace, Facenet512 and MassHealth APIs on partitions without their own (none of the originals has PAD): report, off, enforce or enforce_strict", str, func(c *Config) *string { return &c.PAD.CompatPolicy }),
	)
}

func (c *Config) validatePAD() []error {
	var errs []error
	for _, s := range []struct{ name, v string }{{"pad_policy", c.PAD.Policy}, {"compat_pad_policy", c.PAD.CompatPolicy}} {
		ok := false
		for _, p := range padPolicies {
			ok = ok || s.v == p
		}
		if !ok {
			errs = append(errs, fmt.Errorf("%s must be one of off, report, enforce, enforce_strict; got %q", s.name, s.v))
		}
	}
	return errs
}
