package config

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseBool reads a boolean setting in any of the usual spellings, case
// and surrounding spaces ignored: true/false, 1/0, yes/no, on/off (and
// strconv's t/f), so VIZOR_COMPREFACE=yes and compreface=on in a file work
// as -compreface does.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "on":
		return true, nil
	case "no", "off":
		return false, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, fmt.Errorf("not a boolean (true/false, 1/0, yes/no, on/off): %q", v)
	}
	return b, nil
}

// flagValue is one setting's command-line flag. It validates the value
// when the flag is parsed and keeps it for Load to apply after the file
// and the environment. A switch is a boolean flag for the flag package, so
// the bare -compreface means -compreface=true (as with any Go boolean flag,
// an explicit value needs the =: -compreface=off).
type flagValue struct {
	s Setting
	v *string
}

func (f *flagValue) String() string {
	if f == nil || f.v == nil {
		return ""
	}
	return *f.v
}

func (f *flagValue) Set(x string) error {
	if err := f.s.set(&Config{}, x); err != nil {
		return err
	}
	*f.v = x
	return nil
}

func (f *flagValue) IsBoolFlag() bool { return f != nil && f.s.Bool }
