package config

// The web console's switch lives in its own file, like the compatibility
// listeners' settings, so the table in config.go keeps one job.
func init() {
	Settings = append(Settings,
		mk("ui", "true", "serve the web console at /ui on the main listener (the page is open; every call it makes carries the API key typed into it)", boolean, func(c *Config) *bool { return &c.UI }),
	)
}
