// Package config holds the server's settings: one table of settings, each
// with a flag, an environment variable and a key for the optional config
// file. Precedence, lowest first: built-in default, config file, environment
// (VIZOR_<SETTING>), command-line flag.
package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// APIKey is one accepted x-api-key value and what it may do. An empty or
// "*" entry in Partitions or Operations allows all.
type APIKey struct {
	Key        string   `json:"key"`
	Partitions []string `json:"partitions"`
	Operations []string `json:"operations"`
}

// Config is the whole server configuration.
type Config struct {
	Addr        string // listen address
	AllowPublic bool   // allow a non-loopback address without API keys
	DataDir     string // gallery store directory
	ModelsDir   string // ONNX models + manifest.json
	KeepImages  bool   // keep enrolment images in the gallery
	UI          bool   // serve the web console at /ui on the main listener
	IndexSpec   string // gallery index spec of new partitions
	Gallery     string // gallery backend: "embedded" or weaviate://host:port?...

	MatchThreshold        float64 // cosine score at or above which verify says match
	QualityThreshold      float64 // enrolment quality gate, Quality.Score in [0,1]
	ProbeQualityThreshold float64 // search/verify quality gate
	PADThreshold          float64 // P(live) below this is a spoof (451); 0 disables
	MADModel              string  // morph-attack detector model; "" keeps the MAD gate off
	MADThreshold          float64 // morph score at or above this is a morph (422)
	PAD                   PAD     // default PAD policies (pad.go)

	DefaultTopK int
	MaxTopK     int

	MaxBodyBytes   int           // request body limit (413 beyond)
	MaxPixels      int64         // refuse images declaring more pixels
	RequestTimeout time.Duration // per-request processing deadline
	// SnapshotInterval is how often the gallery snapshots its trained and
	// graph indexes, bounding what start-up replays after a crash; 0: only
	// at shutdown.
	SnapshotInterval time.Duration
	ReadTimeout      time.Duration // whole-request read deadline (slow bodies are cut)
	WriteTimeout     time.Duration
	IdleTimeout      time.Duration
	MaxInFlight      int // concurrent biometric requests; 503 beyond
	MaxConns         int // open client connections of the process; 0: file limit less a reserve
	MaxConnsPerIP    int // open connections of one client address; 0: no per-address cap
	ShutdownGrace    time.Duration

	EngineWorkers int
	EngineThreads int // threads per engine worker (intra-op)
	EngineBackend string
	// EngineIsolation is "process" (the engine runs in supervised worker
	// processes: a native crash costs one request) or "off" (in process).
	EngineIsolation string
	BatchMax        int           // micro-batch size; 1 disables batching
	BatchWait       time.Duration // extra wait for a batch to fill when the engine is idle

	APIKeys []APIKey

	LogLevel  string
	LogFormat string // json or console

	Compat Compat // drop-in compatibility listeners (compat.go)
}

// Setting describes one configurable value.
type Setting struct {
	Name    string // file key, snake_case; env is VIZOR_<NAME upper>
	Default string
	Help    string
	Bool    bool // a switch: the bare flag (-compreface) turns it on
	set     func(c *Config, v string) error
	get     func(c *Config) string
}

// Env is the environment variable of a setting.
func (s Setting) Env() string { return "VIZOR_" + strings.ToUpper(s.Name) }

// Flag is the command-line flag of a setting.
func (s Setting) Flag() string { return strings.ReplaceAll(s.Name, "_", "-") }

func str(p func(*Config) *string) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error { *p(c) = v; return nil },
		func(c *Config) string { return *p(c) }
}

func boolean(p func(*Config) *bool) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			b, err := ParseBool(v)
			if err != nil {
				return err
			}
			*p(c) = b
			return nil
		},
		func(c *Config) string { return strconv.FormatBool(*p(c)) }
}

func float(p func(*Config) *float64) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("not a number: %q", v)
			}
			*p(c) = f
			return nil
		},
		func(c *Config) string { return strconv.FormatFloat(*p(c), 'g', -1, 64) }
}

func integer(p func(*Config) *int) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			n, err := parseSize(v)
			if err != nil {
				return err
			}
			*p(c) = int(n)
			return nil
		},
		func(c *Config) string { return strconv.Itoa(*p(c)) }
}

func int64v(p func(*Config) *int64) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			n, err := parseSize(v)
			if err != nil {
				return err
			}
			*p(c) = n
			return nil
		},
		func(c *Config) string { return strconv.FormatInt(*p(c), 10) }
}

func duration(p func(*Config) *time.Duration) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("not a duration (e.g. 10s, 500ms): %q", v)
			}
			*p(c) = d
			return nil
		},
		func(c *Config) string { return p(c).String() }
}

// parseSize reads an integer with an optional KiB/MiB/GiB (or k/M/G) suffix.
func parseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"k", 1000}, {"M", 1000 * 1000}, {"G", 1000 * 1000 * 1000}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suf)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not an integer: %q", v)
	}
	return n * mult, nil
}

func setting(name, def, help string, f func(*Config, string) error, g func(*Config) string) Setting {
	return Setting{Name: name, Default: def, Help: help, set: f, get: g}
}

func mk[T any](name, def, help string, conv func(func(*Config) *T) (func(*Config, string) error, func(*Config) string), p func(*Config) *T) Setting {
	f, g := conv(p)
	s := setting(name, def, help, f, g)
	_, s.Bool = any(*new(T)).(bool)
	return s
}

// Settings is the table of every setting, in documentation order.
var Settings = []Setting{
	mk("addr", "127.0.0.1:8080", "listen address (host:port)", str, func(c *Config) *string { return &c.Addr }),
	mk("allow_public", "false", "allow a non-loopback listen address when no API keys are configured", boolean, func(c *Config) *bool { return &c.AllowPublic }),
	mk("data_dir", "./data", "gallery store directory", str, func(c *Config) *string { return &c.DataDir }),
	mk("gallery", "embedded", "gallery backend: embedded (FAISS + bbolt in data_dir) or weaviate://HOST:PORT?grpc=PORT&... (a Weaviate cluster; see README, More than one machine)", str, func(c *Config) *string { return &c.Gallery }),
	mk("models_dir", "./models", "models directory (ONNX files and manifest.json)", str, func(c *Config) *string { return &c.ModelsDir }),
	mk("keep_images", "false", "store enrolment images in the gallery", boolean, func(c *Config) *bool { return &c.KeepImages }),
	mk("index_spec", "Flat", "gallery index of new partitions: Flat (exact; ~10-30 ms per search at 10^5), HNSW32,Flat;efSearch=128 (approximate, ~1 ms), ... (see gallery/README.md)", str, func(c *Config) *string { return &c.IndexSpec }),
	mk("match_threshold", "0.45", "cosine score at or above which verify reports a match (calibrated by bench/cmd/vizor-eval: FMR <= 1% on the shared faces; the recognizer entry of models/manifest.json carries the same number)", float, func(c *Config) *float64 { return &c.MatchThreshold }),
	mk("quality_threshold", "0.40", "enrolment quality gate: Quality.Score below this is rejected (422); rejects the full profile jimin3.jpg (0.24), passes every frontal photo (lowest 0.50)", float, func(c *Config) *float64 { return &c.QualityThreshold }),
	mk("probe_quality_threshold", "0.40", "search/verify quality gate (422 below)", float, func(c *Config) *float64 { return &c.ProbeQualityThreshold }),
	mk("pad_threshold", "0.0092", "PAD gate: P(live) below this is a spoof (451); 0 disables the gate. The default holds BPCER <= 1% on public bona fide photos (held-out: 0.39%, 7 of 1,818) and lets about half of the sample attacks through (docs/accuracy/pad.md)", float, func(c *Config) *float64 { return &c.PADThreshold }),
	mk("mad_model", "", "morphing-attack detector model for the enrol MAD gate; empty: gate off (no MAD model ships)", str, func(c *Config) *string { return &c.MADModel }),
	mk("mad_threshold", "0.5", "MAD gate: morph score at or above this is rejected (422)", float, func(c *Config) *float64 { return &c.MADThreshold }),
	mk("default_top_k", "5", "search candidates when top_k is not given", integer, func(c *Config) *int { return &c.DefaultTopK }),
	mk("max_top_k", "100", "largest top_k accepted", integer, func(c *Config) *int { return &c.MaxTopK }),
	mk("max_body_bytes", "16MiB", "request body limit (413 beyond)", integer, func(c *Config) *int { return &c.MaxBodyBytes }),
	mk("max_pixels", "40000000", "refuse images declaring more pixels (413)", int64v, func(c *Config) *int64 { return &c.MaxPixels }),
	mk("snapshot_interval", "10m", "how often the gallery snapshots its HNSW/IVF/PQ indexes so a restart after a crash replays little (0: only at shutdown)", duration, func(c *Config) *time.Duration { return &c.SnapshotInterval }),
	mk("request_timeout", "30s", "processing deadline of one request (503 beyond)", duration, func(c *Config) *time.Duration { return &c.RequestTimeout }),
	mk("read_timeout", "15s", "deadline to read a whole request; slow (slowloris) clients are disconnected", duration, func(c *Config) *time.Duration { return &c.ReadTimeout }),
	mk("write_timeout", "30s", "deadline to write a response", duration, func(c *Config) *time.Duration { return &c.WriteTimeout }),
	mk("idle_timeout", "60s", "keep-alive idle connection timeout", duration, func(c *Config) *time.Duration { return &c.IdleTimeout }),
	mk("max_in_flight", "0", "biometric requests processed at once; more get 503 with Retry-After (0: from the memory plan, the number whose worst case fits in 3/4 of the memory left after the engine's worst case, between 2 and 64; see README, Memory per request)", integer, func(c *Config) *int { return &c.MaxInFlight }),
	mk("max_conns", "0", "open client connections of the whole process, split evenly across the listeners that are on; more are answered 503 and closed (0: the open-file limit less a reserve of a quarter of it, 64 to 1024, for the gallery, models and worker pipes)", integer, func(c *Config) *int { return &c.MaxConns }),
	mk("max_conns_per_ip", "256", "open connections of one client address per listener; more are answered 429 and closed (0: no cap; behind a load balancer or proxy every client has its address, so raise it or set 0)", integer, func(c *Config) *int { return &c.MaxConnsPerIP }),
	mk("shutdown_grace", "30s", "how long shutdown waits for in-flight requests", duration, func(c *Config) *time.Duration { return &c.ShutdownGrace }),
	mk("engine_workers", "0", "engine worker threads (0: number of CPUs)", integer, func(c *Config) *int { return &c.EngineWorkers }),
	mk("engine_threads", "1", "threads per engine worker for one forward pass (0: engine default)", integer, func(c *Config) *int { return &c.EngineThreads }),
	mk("engine_backend", "cpu", "inference backend: cpu or cuda", str, func(c *Config) *string { return &c.EngineBackend }),
	mk("engine_isolation", "process", "process: the engine runs in engine_workers supervised worker processes, so a crash in native code (a decoder, OpenCV) fails only the request that caused it and the worker is restarted; off: in the server process (one crash stops the server)", str, func(c *Config) *string { return &c.EngineIsolation }),
	mk("batch_max", "8", "largest micro-batch of concurrent requests sent to the engine in one call; 1 disables batching", integer, func(c *Config) *int { return &c.BatchMax }),
	mk("batch_wait", "0s", "extra time a batch may wait to fill while the engine is idle", duration, func(c *Config) *time.Duration { return &c.BatchWait }),
	setting("api_keys", "", "API keys: KEY[:PARTITIONS[:OPERATIONS]] entries separated by ';', lists by ',' ('*' or empty: all); operations: search,verify,enrol,delete,read",
		func(c *Config, v string) error {
			keys, err := ParseAPIKeys(v)
			if err != nil {
				return err
			}
			c.APIKeys = keys
			return nil
		},
		func(c *Config) string {
			if len(c.APIKeys) == 0 {
				return ""
			}
			return fmt.Sprintf("(%d keys)", len(c.APIKeys))
		}),
	mk("log_level", "info", "log level: debug, info, warn, error", str, func(c *Config) *string { return &c.LogLevel }),
	mk("log_format", "json", "log format: json or console", str, func(c *Config) *string { return &c.LogFormat }),
}

func lookup(name string) (Setting, bool) {
	n := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "-", "_")
	for _, s := range Settings {
		if s.Name == n {
			return s, true
		}
	}
	return Setting{}, false
}

// Default returns the configuration with every default applied.
func Default() Config {
	c := defaults()
	c.resolveInFlight()
	return c
}

// defaults is every setting at its default, automatic values unresolved.
func defaults() Config {
	var c Config
	for _, s := range Settings {
		if err := s.set(&c, s.Default); err != nil {
			panic(fmt.Sprintf("config: bad default for %s: %v", s.Name, err))
		}
	}
	return c
}

// Load builds the configuration from defaults, the config file (flag -config
// or VIZOR_CONFIG), the environment and the flags in args. getenv may be nil
// (os.Getenv). The returned FlagSet is the parsed one (its Args are the
// positional arguments).
func Load(args []string, getenv func(string) string, usageOut io.Writer) (Config, *flag.FlagSet, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := defaults()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	if usageOut != nil {
		fs.SetOutput(usageOut)
	}
	configFile := fs.String("config", getenv("VIZOR_CONFIG"), "optional config file: JSON object or key=value lines (env VIZOR_CONFIG)")
	printConfig := fs.Bool("print-config", false, "print the effective configuration and exit")
	flagVals := map[string]*string{}
	for _, s := range Settings {
		v := new(string)
		flagVals[s.Name] = v
		fs.Var(&flagValue{s: s, v: v}, s.Flag(), fmt.Sprintf("%s (env %s, default %q)", s.Help, s.Env(), s.Default))
	}
	if err := fs.Parse(args); err != nil {
		return c, fs, err
	}
	if *configFile != "" {
		if err := c.applyFile(*configFile); err != nil {
			return c, fs, err
		}
	}
	for _, s := range Settings {
		if v, ok := lookupEnv(getenv, s.Env()); ok {
			if err := s.set(&c, v); err != nil {
				return c, fs, fmt.Errorf("%s: %w", s.Env(), err)
			}
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, s := range Settings {
		if set[s.Flag()] {
			if err := s.set(&c, *flagVals[s.Name]); err != nil {
				return c, fs, fmt.Errorf("-%s: %w", s.Flag(), err)
			}
		}
	}
	c.applyAllAPIs()
	if err := c.Validate(); err != nil {
		return c, fs, err
	}
	c.resolveInFlight()
	if *printConfig {
		return c, fs, ErrPrintOnly
	}
	return c, fs, nil
}

// ErrPrintOnly is returned by Load when -print-config was given.
var ErrPrintOnly = errors.New("print-config")

func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// applyFile reads a JSON object or key=value lines.
func (c *Config) applyFile(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var m map[string]json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return fmt.Errorf("config file %s: %w", path, err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := m[k]
			if strings.ReplaceAll(k, "-", "_") == "api_keys" && len(v) > 0 && v[0] == '[' {
				var ks []APIKey
				if err := json.Unmarshal(v, &ks); err != nil {
					return fmt.Errorf("config file %s: api_keys: %w", path, err)
				}
				for _, x := range ks {
					if x.Key == "" {
						return fmt.Errorf("config file %s: api_keys: empty key", path)
					}
				}
				c.APIKeys = ks
				continue
			}
			var sv string
			if len(v) > 0 && v[0] == '"' {
				if err := json.Unmarshal(v, &sv); err != nil {
					return err
				}
			} else {
				sv = string(v)
			}
			if err := c.set(k, sv); err != nil {
				return fmt.Errorf("config file %s: %w", path, err)
			}
		}
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return fmt.Errorf("config file %s:%d: want key=value", path, line)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		if err := c.set(strings.TrimSpace(k), v); err != nil {
			return fmt.Errorf("config file %s:%d: %w", path, line, err)
		}
	}
	return sc.Err()
}

func (c *Config) set(key, v string) error {
	s, ok := lookup(key)
	if !ok {
		return fmt.Errorf("unknown setting %q", key)
	}
	if err := s.set(c, v); err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	return nil
}

// Validate checks ranges.
func (c *Config) Validate() error {
	var errs []error
	in01 := func(name string, v float64) {
		if v < 0 || v > 1 {
			errs = append(errs, fmt.Errorf("%s must be in [0,1], got %g", name, v))
		}
	}
	if c.MatchThreshold < -1 || c.MatchThreshold > 1 {
		errs = append(errs, fmt.Errorf("match_threshold must be in [-1,1], got %g", c.MatchThreshold))
	}
	in01("quality_threshold", c.QualityThreshold)
	in01("probe_quality_threshold", c.ProbeQualityThreshold)
	in01("pad_threshold", c.PADThreshold)
	in01("mad_threshold", c.MADThreshold)
	errs = append(errs, c.validatePAD()...)
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr: %w", err))
	}
	if c.DefaultTopK < 1 || c.MaxTopK < c.DefaultTopK {
		errs = append(errs, fmt.Errorf("need 1 <= default_top_k <= max_top_k"))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("max_body_bytes too small: %d", c.MaxBodyBytes))
	}
	if c.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("max_in_flight must be >= 0 (0: automatic)"))
	}
	if c.MaxConns < 0 || c.MaxConnsPerIP < 0 {
		errs = append(errs, fmt.Errorf("max_conns and max_conns_per_ip must be >= 0"))
	}
	switch c.EngineIsolation {
	case "process", "off":
	default:
		errs = append(errs, fmt.Errorf("engine_isolation must be process or off, got %q", c.EngineIsolation))
	}
	if c.BatchMax < 1 {
		errs = append(errs, fmt.Errorf("batch_max must be >= 1"))
	}
	if c.RequestTimeout <= 0 || c.ReadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("request_timeout and read_timeout must be > 0"))
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		errs = append(errs, fmt.Errorf("log_format must be json or console"))
	}
	for _, k := range c.APIKeys {
		for _, op := range k.Operations {
			if op != "*" && !validOp[op] {
				errs = append(errs, fmt.Errorf("api key operation %q unknown (want search, verify, enrol, delete, read or *)", op))
			}
		}
	}
	return errors.Join(errs...)
}

var validOp = map[string]bool{"search": true, "verify": true, "enrol": true, "delete": true, "read": true,
	"pad_policy": true} // pad_policy: set a partition's PAD policy, weaken an enforcing one per request

// ParseAPIKeys reads "KEY[:PARTITIONS[:OPERATIONS]]" entries separated by ';'.
func ParseAPIKeys(v string) ([]APIKey, error) {
	var out []APIKey
	for _, ent := range strings.Split(v, ";") {
		ent = strings.TrimSpace(ent)
		if ent == "" {
			continue
		}
		parts := strings.Split(ent, ":")
		if len(parts) > 3 || parts[0] == "" {
			return nil, fmt.Errorf("api key entry must be KEY[:PARTITIONS[:OPERATIONS]]")
		}
		k := APIKey{Key: parts[0]}
		if len(parts) > 1 {
			k.Partitions = splitList(parts[1])
		}
		if len(parts) > 2 {
			k.Operations = splitList(parts[2])
		}
		out = append(out, k)
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// IsLoopback reports whether addr's host is a loopback address or localhost.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Describe renders the effective configuration as key=value lines (API keys
// are counted, never printed).
func (c *Config) Describe() string {
	var b strings.Builder
	for _, s := range Settings {
		fmt.Fprintf(&b, "%s=%s\n", s.Name, s.get(c))
	}
	return b.String()
}

// Markdown renders the settings table for the README.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| setting (file key) | flag | environment | default | meaning |\n|---|---|---|---|---|\n")
	cell := strings.NewReplacer("|", "\\|", "\n", " ").Replace
	for _, s := range Settings {
		def := "`" + s.Default + "`"
		if s.Default == "" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "| `%s` | `-%s` | `%s` | %s | %s |\n", s.Name, s.Flag(), s.Env(), cell(def), cell(s.Help))
	}
	return b.String()
}
