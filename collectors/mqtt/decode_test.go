package mqtt

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/reading"
)

var recv = time.Date(2026, 11, 23, 2, 15, 0, 0, time.UTC) // 09:15 in Đà Nẵng, a Monday

func newTestDecoder(t testing.TB, mutate func(*DecoderOptions)) *Decoder {
	t.Helper()
	o := testOptions().Decoder
	if mutate != nil {
		mutate(&o)
	}
	d, err := NewDecoder(o)
	require.NoError(t, err)
	return d
}

func fieldMap(r *reading.Reading) map[string]any {
	out := map[string]any{}
	for _, f := range r.Fields {
		switch f.Kind {
		case reading.Float:
			out[f.Key] = f.Float
		case reading.Int:
			out[f.Key] = f.Int
		case reading.Bool:
			out[f.Key] = f.Bool
		case reading.String:
			out[f.Key] = f.Str
		}
	}
	return out
}

func TestDecodeDesignPayloads(t *testing.T) {
	d := newTestDecoder(t, nil)
	cases := []struct {
		topic   string
		payload string
		want    map[string]any
	}{
		{"facmon/thanh-binh/door/door-1/telemetry",
			`{"state":"open","cycles":18231,"motor_current_a":1.4,"obstruction":false,"fault":0}`,
			map[string]any{"state": "open", "cycles": int64(18231), "motor_current_a": 1.4, "obstruction": false, "fault": int64(0)}},
		{"facmon/hai-chau-1/hvac/hvac-2/telemetry",
			`{"temp_c":27.5,"setpoint_c":25,"humidity_pct":63,"power_w":1650,"running":true,"fault":""}`,
			map[string]any{"temp_c": 27.5, "setpoint_c": 25.0, "humidity_pct": 63.0, "power_w": 1650.0, "running": true, "fault": ""}},
		{"facmon/nam-duong/server/server-1/telemetry",
			`{"cpu_pct":12,"mem_pct":48,"disk_pct":71,"temp_c":51,"ups_on_battery":false,"ups_charge_pct":100}`,
			map[string]any{"cpu_pct": 12.0, "mem_pct": 48.0, "disk_pct": 71.0, "temp_c": 51.0, "ups_on_battery": false, "ups_charge_pct": 100.0}},
		{"facmon/binh-hien/camera/camera-4/telemetry",
			`{"recording":true,"fps":25,"bitrate_kbps":2048,"storage_pct":64,"seq":7}`,
			map[string]any{"recording": true, "fps": 25.0, "bitrate_kbps": 2048.0, "storage_pct": 64.0, "seq": int64(7)}},
		// An integral float for an int field is what float-minded firmware sends.
		{"facmon/thanh-binh/door/door-2/telemetry", `{"cycles":12.0}`, map[string]any{"cycles": int64(12)}},
		// Unknown keys are skipped; the known ones stay.
		{"facmon/thanh-binh/door/door-2/telemetry", `{"cycles":3,"firmware":"1.2"}`, map[string]any{"cycles": int64(3)}},
		// A repeated key: the last one wins, and the point has it once.
		{"facmon/thanh-binh/door/door-2/telemetry", `{"cycles":3,"cycles":4}`, map[string]any{"cycles": int64(4)}},
	}
	for _, tc := range cases {
		t.Run(tc.topic+tc.payload, func(t *testing.T) {
			r, rej := d.Decode(tc.topic, []byte(tc.payload), recv)
			require.Nil(t, rej)
			parts := strings.Split(tc.topic, "/")
			assert.Equal(t, parts[1], r.Ward)
			assert.Equal(t, parts[2], r.Class)
			assert.Equal(t, parts[3], r.Device)
			assert.Equal(t, parts[2], r.Measurement)
			assert.Equal(t, tc.want, fieldMap(r))
			assert.Equal(t, recv, r.Time, "no ts: the receive time is the timestamp")
			assert.Equal(t, recv, r.Received)
		})
	}
}

func TestDecodeTimestamps(t *testing.T) {
	d := newTestDecoder(t, nil)
	topic := "facmon/thanh-binh/door/door-1/telemetry"
	ms := recv.Add(-90 * time.Second).UnixMilli()
	cases := []struct {
		name    string
		payload string
		want    time.Time
		reason  Reason
	}{
		{"epoch ms", `{"cycles":1,"ts":` + itoa(ms) + `}`, time.UnixMilli(ms), ""},
		{"rfc3339", `{"cycles":1,"ts":"2026-11-23T09:14:00+07:00"}`, time.Date(2026, 11, 23, 2, 14, 0, 0, time.UTC), ""},
		{"rfc3339 nano", `{"cycles":1,"ts":"2026-11-23T02:14:00.123456789Z"}`, time.Date(2026, 11, 23, 2, 14, 0, 123456789, time.UTC), ""},
		{"too old", `{"cycles":1,"ts":` + itoa(recv.Add(-8*24*time.Hour).UnixMilli()) + `}`, time.Time{}, ReasonTimestampOutside},
		{"in the future", `{"cycles":1,"ts":` + itoa(recv.Add(6*time.Minute).UnixMilli()) + `}`, time.Time{}, ReasonTimestampOutside},
		{"just inside the future bound", `{"cycles":1,"ts":` + itoa(recv.Add(4*time.Minute).UnixMilli()) + `}`, recv.Add(4 * time.Minute), ""},
		{"epoch seconds look like 1970", `{"cycles":1,"ts":` + itoa(recv.Unix()) + `}`, time.Time{}, ReasonTimestampOutside},
		{"not a date", `{"cycles":1,"ts":"yesterday"}`, time.Time{}, ReasonBadTimestamp},
		{"boolean", `{"cycles":1,"ts":true}`, time.Time{}, ReasonBadTimestamp},
		{"fractional ms", `{"cycles":1,"ts":1.5}`, time.Time{}, ReasonBadTimestamp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, rej := d.Decode(topic, []byte(tc.payload), recv)
			if tc.reason != "" {
				require.NotNil(t, rej)
				assert.Equal(t, tc.reason, rej.Reason, rej.Detail)
				return
			}
			require.Nil(t, rej)
			assert.True(t, tc.want.Equal(r.Time), "got %s want %s", r.Time, tc.want)
			assert.Equal(t, recv, r.Received)
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestDecodeRejections(t *testing.T) {
	d := newTestDecoder(t, func(o *DecoderOptions) {
		o.Offices[testWards[0]] = []string{"door-1"}
	})
	door := "facmon/thuan-phuoc/door/door-1/telemetry"
	cases := []struct {
		name    string
		topic   string
		payload string
		reason  Reason
		detail  string // must appear in the detail
	}{
		{"oversize", door, `{"cycles":1,"pad":"` + strings.Repeat("x", 70000) + `"}`, ReasonPayloadTooLarge, "65536"},
		{"malformed", door, `{"cycles":`, ReasonMalformedJSON, door},
		{"NaN literal", door, `{"motor_current_a":NaN}`, ReasonNonFinite, "NaN"},
		{"overflowing number", door, `{"motor_current_a":1e999}`, ReasonNonFinite, "motor_current_a"},
		{"array", door, `[1,2]`, ReasonNotAnObject, "an array"},
		{"string for int", door, `{"cycles":"12"}`, ReasonWrongType, "field cycles: want int, got a string"},
		{"fraction for int", door, `{"cycles":12.5}`, ReasonWrongType, "cycles"},
		{"number for bool", door, `{"obstruction":1}`, ReasonWrongType, "obstruction"},
		{"null for float", door, `{"motor_current_a":null}`, ReasonWrongType, "null"},
		{"string with newline", door, `{"state":"op\nen"}`, ReasonWrongType, "state"},
		{"no known field", door, `{"firmware":"1.2"}`, ReasonNoFields, "door profile"},
		{"only seq", door, `{"seq":3}`, ReasonNoFields, "door"},
		{"negative seq", door, `{"cycles":1,"seq":-1}`, ReasonBadSeq, "seq"},
		{"string seq", door, `{"cycles":1,"seq":"1"}`, ReasonBadSeq, "seq"},
		{"empty", door, ``, ReasonEmptyPayload, door},
		{"unmatched topic", "facmon/thuan-phuoc/door/door-1/other", `{}`, ReasonTopicUnmatched, "matches no configured pattern"},
		{"too short topic", "facmon/thuan-phuoc/door", `{}`, ReasonTopicUnmatched, ""},
		{"unknown ward", "facmon/son-tra/door/door-1/telemetry", `{"cycles":1}`, ReasonUnknownWard, `"son-tra"`},
		{"unknown class", "facmon/thuan-phuoc/lift/lift-1/telemetry", `{"floor":1}`, ReasonUnknownClass, `"lift"`},
		{"unknown device in inventory", "facmon/thanh-binh/door/door-9/telemetry", `{"cycles":1}`, ReasonUnknownDevice, `"door-9"`},
		{"control char in device", "facmon/thuan-phuoc/door/do\x01or/telemetry", `{"cycles":1}`, ReasonBadID, "device id"},
		{"empty device", "facmon/thuan-phuoc/door//telemetry", `{"cycles":1}`, ReasonBadID, "device id"},
		{"id too long", "facmon/thuan-phuoc/door/" + strings.Repeat("d", 65) + "/telemetry", `{"cycles":1}`, ReasonBadID, "device"},
		{"bad status", "facmon/thuan-phuoc/door/door-1/status", `maybe`, ReasonBadStatus, "neither an online value (online, up, 1, true) nor an offline one (offline, down, 0, false)"},
		{"status as JSON without a path", "facmon/thuan-phuoc/door/door-1/status", `{"state":"online"}`, ReasonBadStatus, "status is neither"},
		{"cleared retained status", "facmon/thuan-phuoc/door/door-1/status", ``, ReasonEmptyPayload, "status"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, rej := d.Decode(tc.topic, []byte(tc.payload), recv)
			require.NotNil(t, rej, "accepted: %+v", r)
			assert.Equal(t, tc.reason, rej.Reason, rej.Detail)
			assert.Contains(t, rej.Detail, strings.Map(func(r rune) rune {
				if r < 0x20 {
					return '?'
				}
				return r
			}, tc.detail))
			assert.NotContains(t, rej.Detail, "\x01", "control characters must not reach the log")
		})
	}
}

func TestDecodeStatus(t *testing.T) {
	d := newTestDecoder(t, nil)
	for payload, up := range map[string]int64{"online": 1, "offline": 0, "OFFLINE\n": 0, "1": 1} {
		r, rej := d.Decode("facmon/phuoc-ninh/camera/camera-2/status", []byte(payload), recv)
		require.Nil(t, rej, payload)
		assert.Equal(t, reading.MeasurementDeviceStatus, r.Measurement)
		assert.Equal(t, "camera", r.Class)
		assert.Equal(t, map[string]any{"up": up}, fieldMap(r), payload)
		assert.Equal(t, recv, r.Time)
	}
}

// The status topics of three device families, configured as
// collectors/mqtt/README.md documents them, with payloads as each
// project's own documentation shows them:
//   - Tasmota: tele/<topic>/LWT, retained, "Online" once connected and
//     "Offline" as its last will (tasmota/docs, Home-Assistant.md and the
//     console log in AWS-IoT.md: "tele/tasmota/LWT = Online");
//   - Zigbee2MQTT: zigbee2mqtt/<friendly name>/availability, retained,
//     {"state":"online"} / {"state":"offline"} since the legacy plain
//     payload is off (zigbee2mqtt.io, guide/configuration/device-availability);
//   - Shelly Gen2: <topic_prefix>/online, retained, "true" once connected and
//     "false" as its last will (shelly-api-docs, gen2 MQTT component).
func withDeviceStatusTopics(o *DecoderOptions) {
	builtinOnline, builtinOffline := []string{"online", "up", "1", "true"}, []string{"offline", "down", "0", "false"}
	o.Routes = append(o.Routes,
		Route{
			Pattern: "tele/{device}/LWT", Status: true, Online: builtinOnline, Offline: builtinOffline,
			Tags: map[string]string{"ward": "hai-chau-2", "class": "hvac", "room": "waiting-room"},
		},
		Route{
			Pattern: "zigbee2mqtt/{device}/availability", Status: true,
			Tags:       map[string]string{"ward": "thanh-binh", "class": "hvac", "room": "server-room"},
			StatusPath: "state", Online: []string{"online"}, Offline: []string{"offline"},
		},
		Route{
			Pattern: "{device}/online", Status: true, Online: builtinOnline, Offline: builtinOffline,
			Tags: map[string]string{"ward": "nam-duong", "class": "door"},
		},
	)
}

func TestDecodeDeviceStatusTopics(t *testing.T) {
	d := newTestDecoder(t, withDeviceStatusTopics)
	cases := []struct {
		name, topic, payload string
		ward, class, device  string
		up                   int64
	}{
		{"tasmota online", "tele/tasmota_4F2A1C/LWT", "Online", "hai-chau-2", "hvac", "tasmota_4F2A1C", 1},
		{"tasmota last will", "tele/tasmota_4F2A1C/LWT", "Offline", "hai-chau-2", "hvac", "tasmota_4F2A1C", 0},
		{"zigbee2mqtt online", "zigbee2mqtt/0x00158d0001a2b3c4/availability", `{"state":"online"}`, "thanh-binh", "hvac", "0x00158d0001a2b3c4", 1},
		{"zigbee2mqtt offline", "zigbee2mqtt/0x00158d0001a2b3c4/availability", `{"state":"offline"}`, "thanh-binh", "hvac", "0x00158d0001a2b3c4", 0},
		{"zigbee2mqtt with spaces and more keys", "zigbee2mqtt/server-room-th/availability", "{ \"state\" : \"online\", \"since\": 3 }\n", "thanh-binh", "hvac", "server-room-th", 1},
		{"shelly gen2 online", "shellyplus1pm-441793a1b2c3/online", "true", "nam-duong", "door", "shellyplus1pm-441793a1b2c3", 1},
		{"shelly gen2 last will", "shellyplus1pm-441793a1b2c3/online", "false", "nam-duong", "door", "shellyplus1pm-441793a1b2c3", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, rej := d.Decode(tc.topic, []byte(tc.payload), recv)
			require.Nil(t, rej, "%v", rej)
			assert.Equal(t, reading.MeasurementDeviceStatus, r.Measurement)
			assert.Equal(t, [3]string{tc.ward, tc.class, tc.device}, [3]string{r.Ward, r.Class, r.Device})
			assert.Equal(t, map[string]any{"up": tc.up}, fieldMap(r))
			assert.Equal(t, recv, r.Time)
		})
	}
}

func TestDecodeStatusPathRejections(t *testing.T) {
	d := newTestDecoder(t, withDeviceStatusTopics)
	z2m := "zigbee2mqtt/0x00158d0001a2b3c4/availability"
	cases := []struct {
		name, payload string
		reason        Reason
		detail        string
	}{
		// A Zigbee2MQTT still on the legacy plain payload: the route says JSON.
		{"plain word", "online", ReasonMalformedJSON, "read from state"},
		{"cleared retained", "", ReasonEmptyPayload, "cleared retained"},
		{"array", `["online"]`, ReasonNotAnObject, "an array"},
		{"no such key", `{"status":"online"}`, ReasonBadStatus, "has no state"},
		{"object at the path", `{"state":{"value":"online"}}`, ReasonBadStatus, "want a string, number or boolean, got an object"},
		{"null at the path", `{"state":null}`, ReasonBadStatus, "got null"},
		{"another word", `{"state":"up"}`, ReasonBadStatus, "status field state is neither an online value (online) nor an offline one (offline)"},
		{"a secret-looking value stays out", `{"state":"hunter2"}`, ReasonBadStatus, "state"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, rej := d.Decode(z2m, []byte(tc.payload), recv)
			require.NotNil(t, rej, "accepted: %+v", r)
			assert.Equal(t, tc.reason, rej.Reason, rej.Detail)
			assert.Contains(t, rej.Detail, tc.detail)
			assert.NotContains(t, rej.Detail, "hunter2", "payload values stay out of the log")
		})
	}
}

// withTasmota adds the topic of a Tasmota plug in a waiting room, whose
// payload paths map to the hvac profile's fields.
func withTasmota(o *DecoderOptions) {
	o.Routes = append(o.Routes, Route{
		Pattern: "tele/{device}/SENSOR",
		Tags:    map[string]string{"ward": "hai-chau-2", "class": "hvac", "room": "waiting-room"},
		Fields:  map[string]string{"AM2301.Temperature": "temp_c", "AM2301.Humidity": "humidity_pct", "ENERGY.Power": "power_w"},
	})
}

func TestDecodeTasmotaFieldMap(t *testing.T) {
	d := newTestDecoder(t, withTasmota)
	payload := `{"Time":"2026-11-23T09:14:00","AM2301":{"Temperature":29.4,"Humidity":71},"ENERGY":{"Power":1620},"TempUnit":"C"}`
	r, rej := d.Decode("tele/tasmota_4F2A1C/SENSOR", []byte(payload), recv)
	require.Nil(t, rej)
	assert.Equal(t, "hai-chau-2", r.Ward)
	assert.Equal(t, "hvac", r.Class)
	assert.Equal(t, "tasmota_4F2A1C", r.Device)
	assert.Equal(t, []reading.Tag{{Key: "room", Value: "waiting-room"}}, r.Extra)
	assert.Equal(t, map[string]any{"temp_c": 29.4, "humidity_pct": 71.0, "power_w": 1620.0}, fieldMap(r))
}

func TestFilters(t *testing.T) {
	d := newTestDecoder(t, nil)
	assert.Equal(t, []string{"facmon/+/+/+/telemetry", "facmon/+/+/+/status"}, d.Filters())
}

// FuzzDecode feeds arbitrary topics and payloads: the decoder must never
// panic, and whatever it accepts must be storable.
func FuzzDecode(f *testing.F) {
	d := newTestDecoder(f, withDeviceStatusTopics)
	f.Add("zigbee2mqtt/0x00158d0001a2b3c4/availability", []byte(`{"state":"online"}`))
	f.Add("zigbee2mqtt/lamp/availability", []byte(`{"state":{"state":"offline"},"x":[1,{"state":true}]}`))
	f.Add("tele/tasmota_4F2A1C/LWT", []byte("Offline"))
	f.Add("shellyplus1pm-441793a1b2c3/online", []byte("true"))
	f.Add("facmon/thanh-binh/door/door-1/telemetry", []byte(`{"state":"open","cycles":18231,"motor_current_a":1.4,"obstruction":false,"fault":0,"seq":3}`))
	f.Add("facmon/thanh-binh/hvac/hvac-1/telemetry", []byte(`{"temp_c":27.5,"ts":"2026-11-23T09:14:00+07:00"}`))
	f.Add("facmon/thanh-binh/server/server-1/status", []byte("online"))
	f.Add("facmon/thanh-binh/camera/c/telemetry", []byte(`{"fps":1e999}`))
	f.Add("facmon/+/#", []byte(`{`))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		r, rej := d.Decode(topic, payload, recv)
		if rej != nil {
			if r != nil {
				t.Fatal("both a reading and a rejection")
			}
			if rej.Reason == "" || rej.Detail == "" {
				t.Fatalf("rejection without reason or detail: %+v", rej)
			}
			return
		}
		if !reading.ValidID(r.Ward) || !reading.ValidID(r.Class) || !reading.ValidID(r.Device) {
			t.Fatalf("accepted bad ids: %q %q %q", r.Ward, r.Class, r.Device)
		}
		if !r.Finite() || len(r.Fields) == 0 {
			t.Fatalf("accepted unstorable fields: %+v", r.Fields)
		}
		if r.Time.Before(recv.Add(-8*24*time.Hour)) || r.Time.After(recv.Add(6*time.Minute)) {
			t.Fatalf("accepted a timestamp out of range: %s", r.Time)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	d := newTestDecoder(b, nil)
	payload := []byte(`{"temp_c":27.5,"setpoint_c":25,"humidity_pct":63,"power_w":1650,"running":true,"fault":"","seq":18231,"ts":1795400100123}`)
	now := time.UnixMilli(1795400100500)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, rej := d.Decode("facmon/hoa-cuong-nam/hvac/hvac-3/telemetry", payload, now); rej != nil {
			b.Fatal(rej)
		}
	}
}

// The collector decodes every message into one recycled Reading: each
// result must be what a fresh Decode gives, with nothing left over from
// the message before (a room tag, more fields, a device timestamp), and a
// rejection in between must not leak into the next reading either.
func TestDecodeIntoReusedReading(t *testing.T) {
	d := newTestDecoder(t, withTasmota)
	ts := strconv.FormatInt(recv.Add(-time.Minute).UnixMilli(), 10)
	messages := []struct{ topic, payload string }{
		{"tele/tasmota_4F2A1C/SENSOR", `{"AM2301":{"Temperature":29.4},"ENERGY":{"Power":1620}}`},
		{"facmon/hai-chau-1/hvac/hvac-1/telemetry", `{"temp_c":27.5,"setpoint_c":25,"humidity_pct":63,"power_w":1650,"running":true,"seq":7,"ts":` + ts + `}`},
		{"facmon/hai-chau-1/door/door-1/telemetry", `{"state":"open"}`},
		{"facmon/hai-chau-1/door/door-1/telemetry", `{"state":`},
		{"facmon/hai-chau-1/door/door-1/status", `online`},
		{"facmon/hai-chau-1/camera/cam-1/telemetry", `{"recording":false,"fps":0}`},
		{"tele/tasmota_4F2A1C/SENSOR", `{"AM2301":{"Temperature":30.1}}`},
	}
	reused := new(reading.Reading)
	for i, m := range messages {
		fresh, wantRej := d.Decode(m.topic, []byte(m.payload), recv)
		rej := d.DecodeInto(reused, m.topic, []byte(m.payload), recv)
		if wantRej != nil {
			require.NotNil(t, rej, "message %d", i)
			assert.Equal(t, wantRej.Reason, rej.Reason, "message %d", i)
			continue
		}
		require.Nil(t, rej, "message %d", i)
		assert.Equal(t, fresh.Measurement, reused.Measurement, "message %d", i)
		assert.Equal(t, [3]string{fresh.Ward, fresh.Class, fresh.Device}, [3]string{reused.Ward, reused.Class, reused.Device}, "message %d", i)
		if assert.Len(t, reused.Extra, len(fresh.Extra), "message %d: %v", i, reused.Extra) && len(fresh.Extra) > 0 {
			assert.Equal(t, fresh.Extra, reused.Extra, "message %d", i)
		}
		assert.Equal(t, fieldMap(fresh), fieldMap(reused), "message %d", i)
		assert.Len(t, reused.Fields, len(fresh.Fields), "message %d", i)
		assert.True(t, fresh.Time.Equal(reused.Time), "message %d: time %s, want %s", i, reused.Time, fresh.Time)
		assert.True(t, fresh.Received.Equal(reused.Received), "message %d", i)
	}
}
