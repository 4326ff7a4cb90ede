package status

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var hcm = vietnam()

func fixedNow() time.Time { return time.Date(2026, 3, 10, 14, 5, 0, 0, hcm) }

// fleet is three wards: a all up, b with a camera down and one never
// seen, c with every door down; two alerts.
func fleet() *Memory {
	m := NewMemory(Office{"a", "Thanh Bình"}, Office{"b", "Hòa Cường Bắc"}, Office{"c", "Nam Dương"}, Office{"d", "Phước Ninh"})
	now := fixedNow()
	for _, w := range []string{"a", "b", "c"} {
		for _, d := range []string{"door-1", "door-2"} {
			m.SetDevice(DeviceState{Ward: w, Class: "door", Device: d, Up: w != "c", LastSeen: now.Add(-20 * time.Second)})
		}
		for _, d := range []string{"camera-1", "camera-2", "camera-10"} {
			m.SetDevice(DeviceState{Ward: w, Class: "camera", Device: d, Up: true, LastSeen: now.Add(-15 * time.Second)})
		}
	}
	m.SetDevice(DeviceState{Ward: "b", Class: "camera", Device: "camera-10", Up: false, LastSeen: now.Add(-10 * time.Minute)})
	m.SetDevice(DeviceState{Ward: "b", Class: "hvac", Device: "hvac-1"})
	m.SetAlert(Alert{ID: "1", Name: "DeviceOffline", Severity: "warning", Ward: "b", Class: "camera", Device: "camera-10",
		Since: now.Add(-10 * time.Minute), SummaryVI: "Camera camera-10 mất kết nối", SummaryEN: "Camera camera-10 is offline"})
	m.SetAlert(Alert{ID: "2", Name: "DoorsDown", Severity: "critical", Ward: "c", Class: "door",
		Since: now.Add(-2*time.Hour - 3*time.Minute), Acked: true, AckBy: "anh.nguyen",
		SummaryVI: "Tất cả cửa tự động ngừng", SummaryEN: "Every automatic door is down"})
	return m
}

func TestSnapshotStates(t *testing.T) {
	p := New(fleet(), Options{Now: fixedNow})
	s := p.Snapshot()
	require.Len(t, s.Wards, 4)
	state := func(i int) (string, []string) {
		var cs []string
		for _, c := range s.Wards[i].Classes {
			cs = append(cs, c.Class+"="+c.State)
		}
		return s.Wards[i].State, cs
	}
	st, cs := state(0)
	assert.Equal(t, StateOK, st)
	assert.Equal(t, []string{"door=ok", "camera=ok"}, cs)
	st, cs = state(1)
	assert.Equal(t, StateDegraded, st)
	assert.Equal(t, []string{"door=ok", "hvac=unknown", "camera=degraded"}, cs)
	assert.Equal(t, []string{"camera-10"}, s.Wards[1].Classes[2].Down)
	assert.Equal(t, 2, s.Wards[1].Classes[2].Up)
	st, cs = state(2)
	assert.Equal(t, StateDown, st)
	assert.Equal(t, []string{"door=down", "camera=ok"}, cs)
	st, _ = state(3)
	assert.Equal(t, StateUnknown, st, "a ward without devices")
	assert.Equal(t, Summary{Wards: 4, OK: 1, Degraded: 1, Down: 1, Unknown: 1}, s.Summary)
	require.NotNil(t, s.Wards[0].LastSeen)
	assert.Equal(t, fixedNow().Add(-15*time.Second), *s.Wards[0].LastSeen)

	require.Len(t, s.Groups, 2)
	assert.Equal(t, 2, s.Firing)
	assert.Equal(t, "DoorsDown", s.Groups[0].Rule, "most severe first")
	assert.Equal(t, "DeviceOffline", s.Groups[1].Rule)
	require.Len(t, s.Groups[1].Alerts, 1)
	assert.Equal(t, "1", s.Groups[1].Alerts[0].ID)
	assert.Equal(t, int64(600), s.Groups[1].Alerts[0].AgeSeconds)
	assert.Equal(t, int64(600), s.Groups[1].AgeSeconds)
	assert.Equal(t, "Hòa Cường Bắc", s.Groups[1].WardName)
	assert.Equal(t, 1, s.Wards[1].Alerts)

	m := fleet()
	m.SetCollecting(false)
	s = New(m, Options{Now: fixedNow}).Snapshot()
	for _, w := range s.Wards {
		assert.Equal(t, StateUnknown, w.State, "not collecting: nothing is known")
	}
}

func get(t *testing.T, h http.Handler, target string) (int, string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	// Unescaped as the browser shows it: html/template writes "+" as &#43;.
	return rec.Code, html.UnescapeString(string(body)), rec.Result().Header
}

func TestPageLanguages(t *testing.T) {
	p := New(fleet(), Options{Now: fixedNow, ReportPath: "/reports/uptime"})
	code, vi, h := get(t, p, "/")
	require.Equal(t, 200, code)
	assert.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"))
	for _, want := range []string{
		`<html lang="vi">`, "Tình trạng thiết bị các phường", "Cập nhật lúc 10/03/2026 14:05", "Hòa Cường Bắc",
		"Bình thường", "Suy giảm", "Ngừng hoạt động", "Không rõ", "Cửa tự động", "2/3 hoạt động", "camera-10",
		"Cảnh báo đang hoạt động", "Nghiêm trọng", "Đã xác nhận bởi anh.nguyen", "Chưa xác nhận", "Camera camera-10 mất kết nối",
		"từ 13:55", "10 phút", "2 giờ 3 phút", "Số liệu cuối: <span class=\"last\">14:04</span> (15 giây trước)",
		"4 phường: 1 bình thường, 0 có cảnh báo, 1 suy giảm, 1 ngừng, 1 không rõ", `href="?lang=en"`, `/reports/uptime?lang=vi`,
	} {
		assert.Contains(t, vi, want)
	}
	assert.NotContains(t, vi, "⟦")
	assert.NotRegexp(t, `(?i)<(link|img|iframe)\b|\bsrc=`, vi, "no external assets")

	_, en, _ := get(t, p, "/?lang=en")
	for _, want := range []string{`<html lang="en">`, "Ward equipment status", "Updated at 2026-03-10 14:05", "Degraded", "Acknowledged by anh.nguyen", "Every automatic door is down", "2 h 3 min", "Tiếng Việt"} {
		assert.Contains(t, en, want)
	}
	assert.NotContains(t, en, "⟦")

	_, part, _ := get(t, p, "/?partial=1&lang=en")
	assert.NotContains(t, part, "<html")
	assert.Contains(t, part, `id="wards"`)
	assert.Contains(t, part, "Ward equipment status"[:0]+"Active alerts")

	_, bad, _ := get(t, p, "/?lang=xx")
	assert.Contains(t, bad, `<html lang="vi">`, "an unknown language falls back to Vietnamese")
}

func TestAPI(t *testing.T) {
	p := New(fleet(), Options{Now: fixedNow})
	code, body, h := get(t, p.API(), "/api/status")
	require.Equal(t, 200, code)
	assert.Equal(t, "application/json; charset=utf-8", h.Get("Content-Type"))
	var s Snapshot
	require.NoError(t, json.Unmarshal([]byte(body), &s))
	assert.Equal(t, 4, s.Summary.Wards)
	assert.Equal(t, "degraded", s.Wards[1].State)
	assert.True(t, strings.Contains(body, `"summary_vi": "Camera camera-10 mất kết nối"`))
}

// A ward whose devices are all up is not "OK" while an alert fires there:
// its badge takes the colour of its worst alert and says how many.
func TestWardBadgeReflectsWorstAlert(t *testing.T) {
	up := func(m *Memory) {
		for _, d := range []string{"door-1", "door-2"} {
			m.SetDevice(DeviceState{Ward: "a", Class: "door", Device: d, Up: true, LastSeen: fixedNow().Add(-time.Minute)})
		}
	}
	alert := func(id, sev string, acked bool) Alert {
		return Alert{ID: id, Name: "ServerRoomHot", Severity: sev, Ward: "a", Class: "hvac", Since: fixedNow().Add(-5 * time.Minute), Acked: acked}
	}
	cases := []struct {
		name      string
		alerts    []Alert
		downDoor  bool
		badge     string // the badge's class
		text      string // its text, Vietnamese
		textEN    string
		summaryEN string
	}{
		{"no alert", nil, false, "ok", "Bình thường", "OK", "1 wards: 1 ok, 0 alerting, 0 degraded, 0 down, 0 unknown"},
		{"an info alert leaves it ok", []Alert{alert("1", "info", false)}, false, "ok", "Bình thường", "OK", "1 wards: 1 ok, 0 alerting, 0 degraded, 0 down, 0 unknown"},
		{"a critical alert", []Alert{alert("1", "critical", false)}, false, "critical", "1 nghiêm trọng", "1 critical", "1 wards: 0 ok, 1 alerting, 0 degraded, 0 down, 0 unknown"},
		{"an acknowledged critical alert is still active", []Alert{alert("1", "critical", true)}, false, "critical", "1 nghiêm trọng", "1 critical", "1 wards: 0 ok, 1 alerting, 0 degraded, 0 down, 0 unknown"},
		{"warnings", []Alert{alert("1", "warning", false), alert("2", "warning", false)}, false, "warning", "2 cảnh báo", "2 warnings", "1 wards: 0 ok, 1 alerting, 0 degraded, 0 down, 0 unknown"},
		{"the worst alert counts", []Alert{alert("1", "warning", false), alert("2", "critical", false), alert("3", "critical", false)}, false, "critical", "2 nghiêm trọng", "2 critical", "1 wards: 0 ok, 1 alerting, 0 degraded, 0 down, 0 unknown"},
		{"degraded with a critical alert is red", []Alert{alert("1", "critical", false)}, true, "critical", "Suy giảm · 1 nghiêm trọng", "Degraded · 1 critical", "1 wards: 0 ok, 0 alerting, 1 degraded, 0 down, 0 unknown"},
		{"degraded with a warning stays amber", []Alert{alert("1", "warning", false)}, true, "degraded", "Suy giảm · 1 cảnh báo", "Degraded · 1 warning", "1 wards: 0 ok, 0 alerting, 1 degraded, 0 down, 0 unknown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := NewMemory(Office{"a", "Thanh Bình"})
			up(m)
			if c.downDoor {
				m.SetDevice(DeviceState{Ward: "a", Class: "door", Device: "door-2", Up: false, LastSeen: fixedNow().Add(-time.Hour)})
			}
			for _, a := range c.alerts {
				m.SetAlert(a)
			}
			p := New(m, Options{Now: fixedNow})
			_, vi, _ := get(t, p, "/")
			assert.Contains(t, vi, `<span class="badge `+c.badge+`">`+c.text+`</span>`)
			assert.Contains(t, vi, `class="tile `+c.badge+`"`, "the tile's colour follows the badge")
			_, en, _ := get(t, p, "/?lang=en")
			assert.Contains(t, en, `<span class="badge `+c.badge+`">`+c.textEN+`</span>`)
			assert.Contains(t, en, c.summaryEN)
		})
	}
	s := New(func() *Memory {
		m := NewMemory(Office{"a", "Thanh Bình"})
		up(m)
		m.SetAlert(alert("1", "warning", false))
		m.SetAlert(alert("2", "critical", true))
		return m
	}(), Options{Now: fixedNow}).Snapshot()
	assert.Equal(t, "critical", s.Wards[0].Worst)
	assert.Equal(t, 1, s.Wards[0].Critical)
	assert.Equal(t, 1, s.Wards[0].Warning)
	assert.Equal(t, StateOK, s.Wards[0].State, "the devices' state is still reported apart")
}

// The time of the update names its zone: a technician reading the page
// from elsewhere, or a screenshot later, must not guess.
func TestUpdatedNamesTheZone(t *testing.T) {
	p := New(fleet(), Options{Now: fixedNow})
	_, vi, _ := get(t, p, "/")
	assert.Contains(t, vi, "Cập nhật lúc 10/03/2026 14:05 (ICT, UTC+7)")
	_, en, _ := get(t, p, "/?lang=en")
	assert.Contains(t, en, "Updated at 2026-03-10 14:05 (ICT, UTC+7)")
	utc := New(fleet(), Options{Now: fixedNow, Location: time.UTC})
	_, vi, _ = get(t, utc, "/")
	assert.Contains(t, vi, "Cập nhật lúc 10/03/2026 07:05 (UTC)")
	odd := New(fleet(), Options{Now: fixedNow, Location: time.FixedZone("", 5*3600+1800)})
	_, vi, _ = get(t, odd, "/")
	assert.Contains(t, vi, "Cập nhật lúc 10/03/2026 12:35 (UTC+5:30)")
}

// floodOf is 13 wards where n devices fell silent: a DeviceOffline alert
// each, a critical ServerRoomHot in one ward, a few acknowledged.
func floodOf(n int) *Memory {
	var offices []Office
	for w := range 13 {
		offices = append(offices, Office{fmt.Sprintf("w%d", w), fmt.Sprintf("Phường %d", w)})
	}
	m := NewMemory(offices...)
	now := fixedNow()
	for i := range n {
		ward := fmt.Sprintf("w%d", i%13)
		dev := fmt.Sprintf("cam-%05d", i)
		m.SetDevice(DeviceState{Ward: ward, Class: "camera", Device: dev, LastSeen: now.Add(-time.Hour)})
		m.SetAlert(Alert{ID: dev, Name: "DeviceOffline", Severity: "warning", Ward: ward, Class: "camera", Device: dev,
			Since: now.Add(-time.Duration(i%3000) * time.Second), Acked: i%50 == 0, AckBy: "Minh",
			SummaryVI: "Thiết bị " + dev + " (camera) mất kết nối", SummaryEN: "Device " + dev + " (camera) is offline"})
	}
	m.SetAlert(Alert{ID: "hot", Name: "ServerRoomHot", Severity: "critical", Ward: "w3", Class: "hvac", Device: "hvac-1", Since: now.Add(-time.Minute)})
	return m
}

// With 50,000 alerts firing the page stays small: alerts are grouped per
// ward and rule, the most severe first, a bounded number in full.
func TestPageBoundedWith50000Alerts(t *testing.T) {
	p := New(floodOf(50_000), Options{Now: fixedNow, AlertsPath: "/api/alerts"})
	for _, target := range []string{"/", "/?partial=1", "/?lang=en"} {
		code, body, _ := get(t, p, target)
		require.Equal(t, 200, code)
		assert.Less(t, len(body), 1<<20, target)
		t.Logf("%s: %d bytes", target, len(body))
	}
	_, body, _ := get(t, p.API(), "/api/status")
	assert.Less(t, len(body), 1<<20, "/api/status")
	t.Logf("/api/status: %d bytes", len(body))

	s := p.Snapshot()
	assert.Equal(t, 50_001, s.Firing)
	require.Len(t, s.Groups, 14, "13 wards' DeviceOffline and one ServerRoomHot")
	assert.Equal(t, "ServerRoomHot", s.Groups[0].Rule, "the critical one first")
	total := 0
	for _, w := range s.Wards {
		total += w.Alerts
		for _, c := range w.Classes {
			assert.Len(t, c.Down, 10, "down devices named: the first ten")
			assert.Equal(t, c.Total-10, c.DownMore)
		}
	}
	assert.Equal(t, 50_001, total, "the badges count every alert")
	assert.Equal(t, 1, s.Wards[3].Critical)

	_, vi, _ := get(t, p, "/")
	assert.Contains(t, vi, "Cảnh báo đang hoạt động (50.001)")
	assert.Contains(t, vi, "3.847 cảnh báo · 77 đã xác nhận", "a group's counts")
	assert.Contains(t, vi, "và 3.842 cảnh báo khác trong nhóm này")
	assert.Contains(t, vi, `href="/api/alerts?rule=DeviceOffline&state=firing&ward=w0"`)
	assert.Contains(t, vi, "và 3.837 thiết bị khác")
	assert.Equal(t, 20-1, strings.Count(vi, `<span class="summary-text">`), "20 alerts in full: ServerRoomHot (no summary), then five per group")
	assert.Equal(t, 13, strings.Count(vi, `class="more-link"`), "every group links the rest")
	assert.Contains(t, vi, "3.770 chưa xác nhận")
}

// A group of one is its alert; beyond MaxGroups the rest are counted.
func TestAlertGroupsOnThePage(t *testing.T) {
	m := floodOf(26) // two DeviceOffline per ward
	p := New(m, Options{Now: fixedNow, MaxGroups: 4, PerGroup: 1})
	_, en, _ := get(t, p, "/?lang=en")
	assert.Contains(t, en, "Active alerts (27)")
	assert.Equal(t, 1, strings.Count(en, `class="alert critical"`), "ServerRoomHot alone, as itself")
	assert.Equal(t, 3, strings.Count(en, `class="alert group warning`), "three groups of two")
	assert.Equal(t, 3, strings.Count(en, "and 1 more in this group"))
	assert.Contains(t, en, "10 more alert groups (20 alerts), less severe or newer, are not shown here.")
	assert.NotContains(t, en, "see them all", "no API link unless configured")
}
