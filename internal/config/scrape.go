package config

// ScrapeTarget is one service application whose Prometheus metrics facmon
// scrapes into InfluxDB next to the equipment telemetry.
type ScrapeTarget struct {
	URL      string            `yaml:"url"`
	Ward     string            `yaml:"ward"`
	App      string            `yaml:"app"`
	Interval Duration          `yaml:"interval"`
	Timeout  Duration          `yaml:"timeout"`
	Labels   map[string]string `yaml:"labels"`
	// BearerTokenFile or BasicAuth authenticate the scrape; secrets come
	// from files only.
	BearerTokenFile string           `yaml:"bearer_token_file"`
	BasicAuth       *ScrapeBasicAuth `yaml:"basic_auth"`
	TLS             TLS              `yaml:"tls"`
	// MaxSeries caps the series taken from one scrape; the rest are
	// dropped and counted, so one misbehaving app cannot flood InfluxDB.
	MaxSeries int `yaml:"max_series"`
}

// ScrapeBasicAuth is HTTP basic authentication with the password in a file.
type ScrapeBasicAuth struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
}
