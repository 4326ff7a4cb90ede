package config

import (
	"slices"
	"time"

	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/internal/calendar"
	"github.com/facmon/facmon/internal/web"
	"github.com/facmon/facmon/reports"
)

// HaiChauWards are the 13 ward offices of Hải Châu district that opened
// electronic one-stop offices in 2015: the default fleet.
var haiChauWards = []Office{
	{ID: "thanh-binh", Name: "Thanh Bình"},
	{ID: "thuan-phuoc", Name: "Thuận Phước"},
	{ID: "thach-thang", Name: "Thạch Thang"},
	{ID: "hai-chau-1", Name: "Hải Châu I"},
	{ID: "hai-chau-2", Name: "Hải Châu II"},
	{ID: "phuoc-ninh", Name: "Phước Ninh"},
	{ID: "hoa-thuan-tay", Name: "Hòa Thuận Tây"},
	{ID: "hoa-thuan-dong", Name: "Hòa Thuận Đông"},
	{ID: "nam-duong", Name: "Nam Dương"},
	{ID: "binh-hien", Name: "Bình Hiên"},
	{ID: "binh-thuan", Name: "Bình Thuận"},
	{ID: "hoa-cuong-bac", Name: "Hòa Cường Bắc"},
	{ID: "hoa-cuong-nam", Name: "Hòa Cường Nam"},
}

// DefaultOffices returns a fresh copy of the default fleet.
func DefaultOffices() []Office {
	return slices.Clone(haiChauWards)
}

// DefaultProfiles types the payloads of the four device classes.
func DefaultProfiles() map[string]Profile {
	return map[string]Profile{
		"door": {Fields: map[string]string{
			"state": "string", "cycles": "int", "motor_current_a": "float",
			"obstruction": "bool", "fault": "int",
		}},
		"hvac": {Fields: map[string]string{
			"temp_c": "float", "setpoint_c": "float", "humidity_pct": "float",
			"power_w": "float", "running": "bool", "fault": "string",
		}},
		"server": {Fields: map[string]string{
			"cpu_pct": "float", "mem_pct": "float", "disk_pct": "float",
			"temp_c": "float", "ups_on_battery": "bool", "ups_charge_pct": "float",
		}},
		"camera": {Fields: map[string]string{
			"recording": "bool", "fps": "float", "bitrate_kbps": "float", "storage_pct": "float",
		}},
	}
}

// DefaultTopics is facmon's own topic scheme.
func DefaultTopics() []Topic {
	return []Topic{
		{Pattern: "facmon/{ward}/{class}/{device}/telemetry", Kind: "telemetry"},
		{Pattern: "facmon/{ward}/{class}/{device}/status", Kind: "status"},
	}
}

// Default returns the configuration used when no file is given. Every
// default lives here so a reader finds them in one place.
func Default() Config {
	return Config{
		Log: Log{Level: "info", Format: "json"},
		MQTT: MQTT{
			URL:                  "tcp://127.0.0.1:1883",
			ClientID:             "facmon-collector",
			KeepAlive:            Duration(30 * time.Second),
			ConnectTimeout:       Duration(10 * time.Second),
			MaxReconnectInterval: Duration(30 * time.Second),
			MaxInflight:          1000,
			MaxPayloadBytes:      64 << 10,
			Topics:               DefaultTopics(),
		},
		Influx: Influx{
			URL:              "http://127.0.0.1:8086",
			Bucket:           "facmon",
			BatchSize:        5000,
			FlushInterval:    Duration(100 * time.Millisecond),
			Timeout:          Duration(10 * time.Second),
			CreateDatabase:   true,
			MaxRetryInterval: Duration(30 * time.Second),
		},
		Spool: Spool{
			Dir:      "var/spool",
			MaxBytes: 1 << 30,
			// An fsync costs about the same whatever it writes, so larger
			// groups cost less per reading (bench/README.md, "Tuning"). A
			// telemetry reading can wait that long for its ack; alerts see
			// it before it is spooled.
			CommitInterval: Duration(20 * time.Millisecond),
			ShutdownDrain:  Duration(10 * time.Second),
		},
		Web: defaultWeb(),
		Ingest: Ingest{
			MaxPast:   Duration(7 * 24 * time.Hour),
			MaxFuture: Duration(5 * time.Minute),
			// A real office has tens of devices; a city a few thousand.
			MaxDevicesPerOffice: 1000,
			MaxDevices:          100_000,
		},
		Alerts: Alerts{
			EvalInterval: Duration(time.Second),
			FlapCount:    4,
			FlapWindow:   Duration(10 * time.Minute),
			Notifiers:    notify.DefaultConfig(),
		},
		Reports:  reports.DefaultConfig(),
		Profiles: DefaultProfiles(),
		Calendars: map[string]calendar.Config{DefaultCalendar: {
			Timezone: "Asia/Ho_Chi_Minh", Weekly: calendar.DefaultWeekly(),
		}},
		Liveness: Liveness{SampleInterval: Duration(time.Minute), SeedLookback: Duration(14 * 24 * time.Hour), Heartbeat: map[string]Duration{
			"door": Duration(time.Minute), "hvac": Duration(time.Minute),
			"server": Duration(time.Minute), "camera": Duration(time.Minute),
			"app": Duration(time.Minute),
		}},
		Offices: DefaultOffices(),
	}
}

// defaultWeb takes its limits from the web server's own defaults.
func defaultWeb() Web {
	l := web.DefaultLimits()
	return Web{
		Listen:            "127.0.0.1:8080",
		ReadHeaderTimeout: Duration(l.ReadHeaderTimeout),
		ReadTimeout:       Duration(l.ReadTimeout),
		WriteTimeout:      Duration(l.WriteTimeout),
		ReportTimeout:     Duration(l.LongWriteTimeout),
		IdleTimeout:       Duration(l.IdleTimeout),
		MaxHeaderBytes:    ByteSize(l.MaxHeaderBytes),
		MaxBodyBytes:      ByteSize(l.MaxBodyBytes),
	}
}
