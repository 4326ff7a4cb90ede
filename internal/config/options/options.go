// Package options maps a validated configuration onto the options each
// component is built from, so that no component reads the configuration
// file's types and the configuration imports no component.
package options

import (
	"maps"
	"slices"

	"github.com/facmon/facmon/collectors/mqtt"
	"github.com/facmon/facmon/collectors/scrape"
	"github.com/facmon/facmon/internal/config"
)

// MQTT is what the MQTT collector is built from, taken from the mqtt,
// profiles, offices and ingest sections.
func MQTT(c config.Config) mqtt.Options {
	return mqtt.Options{
		Broker: mqtt.Broker{
			URL:                  c.MQTT.URL,
			ClientID:             c.MQTT.ClientID,
			Username:             c.MQTT.Username,
			PasswordFile:         c.MQTT.PasswordFile,
			TLS:                  c.MQTT.TLS,
			KeepAlive:            c.MQTT.KeepAlive.D(),
			ConnectTimeout:       c.MQTT.ConnectTimeout.D(),
			MaxReconnectInterval: c.MQTT.MaxReconnectInterval.D(),
			SharedGroup:          c.MQTT.SharedGroup,
		},
		Decoder:             Decoder(c),
		MaxDevicesPerOffice: c.Ingest.MaxDevicesPerOffice,
		MaxDevices:          c.Ingest.MaxDevices,
	}
}

// Decoder is how MQTT messages decode: the topics, the profiles that type
// their fields, the offices and the ingest bounds.
func Decoder(c config.Config) mqtt.DecoderOptions {
	o := mqtt.DecoderOptions{
		Profiles:        make(map[string]map[string]string, len(c.Profiles)),
		Offices:         make(map[string][]string, len(c.Offices)),
		MaxPayloadBytes: c.MQTT.MaxPayloadBytes,
		MaxPast:         c.Ingest.MaxPast.D(),
		MaxFuture:       c.Ingest.MaxFuture.D(),
	}
	for _, t := range c.MQTT.Topics {
		r := mqtt.Route{Pattern: t.Pattern, Tags: maps.Clone(t.Tags), Fields: maps.Clone(t.Fields)}
		if t.Kind == "status" {
			r.Status = true
			r.StatusPath = t.Status.Path
			r.Online = slices.Clone(t.Status.OnlineWords())
			r.Offline = slices.Clone(t.Status.OfflineWords())
		}
		o.Routes = append(o.Routes, r)
	}
	for class, p := range c.Profiles {
		o.Profiles[class] = maps.Clone(p.Fields)
	}
	for _, off := range c.Offices {
		o.Offices[off.ID] = slices.Clone(off.Devices)
	}
	return o
}

// Scrape is what the scrape collector is built from: the targets, their
// defaults applied, and the ingest bounds on samples' timestamps.
func Scrape(c config.Config) scrape.Options {
	o := scrape.Options{Bounds: ScrapeBounds(c)}
	for _, st := range c.Scrape {
		o.Targets = append(o.Targets, ScrapeTarget(st))
	}
	return o
}

// ScrapeBounds are the ingest bounds on scraped samples' timestamps.
func ScrapeBounds(c config.Config) scrape.TimeBounds {
	return scrape.TimeBounds{MaxPast: c.Ingest.MaxPast.D(), MaxFuture: c.Ingest.MaxFuture.D()}
}

// ScrapeTarget is one target as the collector takes it, its unset
// interval, timeout and series cap given their defaults.
func ScrapeTarget(st config.ScrapeTarget) scrape.Target {
	st = st.WithDefaults()
	t := scrape.Target{
		URL: st.URL, Ward: st.Ward, App: st.App,
		Interval: st.Interval.D(), Timeout: st.Timeout.D(),
		Labels:          maps.Clone(st.Labels),
		BearerTokenFile: st.BearerTokenFile,
		TLS:             st.TLS,
		MaxSeries:       st.MaxSeries,
	}
	if st.BasicAuth != nil {
		ba := *st.BasicAuth
		t.BasicAuth = &ba
	}
	return t
}
