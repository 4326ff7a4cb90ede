package scrape

import (
	"time"

	"github.com/facmon/facmon/internal/clientauth"
)

// Options is what the scrape collector is built from. internal/config
// maps the configuration onto it, its defaults applied.
type Options struct {
	Targets []Target
	Bounds  TimeBounds
}

// TimeBounds bound a scraped sample's own timestamp around the scrape.
type TimeBounds struct {
	MaxPast, MaxFuture time.Duration
}

// Target is one service application whose Prometheus metrics are read.
type Target struct {
	URL  string
	Ward string
	// App names the application; it is the device tag of its points
	// (class "app"), so "onestop" at two wards are two devices.
	App string
	// Interval is how often the app is scraped; Timeout covers the request,
	// reading the body and parsing it. Both must be positive.
	Interval, Timeout time.Duration
	// Labels are extra tags added to every point of the target.
	Labels map[string]string
	// BearerTokenFile or BasicAuth authenticate the scrape. The files are
	// read again on every scrape, so a rotated secret is picked up without
	// a restart.
	BearerTokenFile string
	BasicAuth       *clientauth.BasicAuth
	TLS             clientauth.TLS
	// MaxSeries caps the series taken from one scrape; the rest are
	// dropped and counted.
	MaxSeries int
}
