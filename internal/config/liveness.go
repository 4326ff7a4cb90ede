package config

import (
	"time"

	"github.com/facmon/facmon/alerts/maintenance"
)

// Liveness says how long a device may stay silent before it counts as
// down: alert absence rules and the uptime reports use the same values.
type Liveness struct {
	// Heartbeat per device class; devices publish every 10 s by default,
	// so a minute tolerates jitter and a lost message or two.
	Heartbeat map[string]Duration `yaml:"heartbeat"`
	// Devices overrides the class value for one device, keyed "ward/device".
	Devices map[string]Duration `yaml:"devices"`
	// SampleInterval is how often a device_availability point (up 1/0) is
	// written per device, for dashboards' mean(up).
	SampleInterval Duration `yaml:"sample_interval"`
	// SeedLookback is how far back facmon looks at start-up for each
	// device's last reading and liveness transition, so a device that fell
	// silent while facmon was stopped is down from its last reading: longer
	// than any stop worth reporting, short enough that a device removed long
	// ago does not come back.
	SeedLookback Duration `yaml:"seed_lookback"`
}

// DefaultHeartbeat applies to a class not listed in liveness.heartbeat.
const DefaultHeartbeat = time.Minute

// HeartbeatOf returns the heartbeat of one device.
func (l Liveness) HeartbeatOf(ward, class, device string) time.Duration {
	if d, ok := l.Devices[ward+"/"+device]; ok {
		return d.D()
	}
	if d, ok := l.Heartbeat[class]; ok {
		return d.D()
	}
	return DefaultHeartbeat
}

// MaintenanceSchedule compiles the maintenance windows; local times are
// in the zone of the default office calendar.
func (cfg Config) MaintenanceSchedule() (*maintenance.Schedule, error) {
	tz := cfg.Calendars[DefaultCalendar].Timezone
	if tz == "" {
		tz = "Asia/Ho_Chi_Minh"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc = time.FixedZone("ICT", 7*3600) // the calendar check reports the bad zone
	}
	return maintenance.New(cfg.Maintenance, loc)
}
