package mqtt

import "time"

// testWards are the wards the collector's tests publish from: Hải Châu's,
// as facmon's default configuration lists them.
var testWards = []string{
	"thanh-binh", "thuan-phuoc", "thach-thang", "hai-chau-1", "hai-chau-2", "phuoc-ninh", "hoa-thuan-tay",
	"hoa-thuan-dong", "nam-duong", "binh-hien", "binh-thuan", "hoa-cuong-bac", "hoa-cuong-nam",
}

// testOptions is the collector of facmon's default configuration: its
// topic scheme, the four device classes' profiles, the wards without
// inventories and the default ingest bounds.
func testOptions() Options {
	offices := map[string][]string{}
	for _, w := range testWards {
		offices[w] = nil
	}
	return Options{
		Broker: Broker{
			URL:                  "tcp://127.0.0.1:1883",
			ClientID:             "facmon-collector",
			KeepAlive:            30 * time.Second,
			ConnectTimeout:       10 * time.Second,
			MaxReconnectInterval: 30 * time.Second,
		},
		Decoder: DecoderOptions{
			Routes: []Route{
				{Pattern: "facmon/{ward}/{class}/{device}/telemetry"},
				{Pattern: "facmon/{ward}/{class}/{device}/status", Status: true,
					Online: []string{"online", "up", "1", "true"}, Offline: []string{"offline", "down", "0", "false"}},
			},
			Profiles: map[string]map[string]string{
				"door": {"state": "string", "cycles": "int", "motor_current_a": "float", "obstruction": "bool", "fault": "int"},
				"hvac": {"temp_c": "float", "setpoint_c": "float", "humidity_pct": "float", "power_w": "float", "running": "bool", "fault": "string"},
				"server": {"cpu_pct": "float", "mem_pct": "float", "disk_pct": "float", "temp_c": "float",
					"ups_on_battery": "bool", "ups_charge_pct": "float"},
				"camera": {"recording": "bool", "fps": "float", "bitrate_kbps": "float", "storage_pct": "float"},
			},
			Offices:         offices,
			MaxPayloadBytes: 64 << 10,
			MaxPast:         7 * 24 * time.Hour,
			MaxFuture:       5 * time.Minute,
		},
		MaxDevicesPerOffice: 1000,
		MaxDevices:          100_000,
	}
}
