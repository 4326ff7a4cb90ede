// Package options maps a validated configuration onto the options each
// component is built from, so that no component reads the configuration
// file's types and the configuration imports no component.
package options

import (
	"maps"
	"slices"

	"github.com/facmon/facmon/collectors/mqtt"
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
