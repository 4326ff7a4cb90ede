package status_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/web/status"
	"github.com/facmon/facmon/reports"
	"github.com/facmon/facmon/reports/i18n"
	"github.com/facmon/facmon/reports/loader"
	"github.com/facmon/facmon/reports/reporttest"
	"github.com/facmon/facmon/reports/uptime"
)

const chromiumPath = "/usr/bin/chromium"

// artefacts is where the screenshots go: $FACMON_ARTEFACTS, or a
// directory kept after the test so they can be looked at.
func artefacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FACMON_ARTEFACTS")
	if dir == "" {
		var err error
		dir, err = os.MkdirTemp("", "facmon-artefacts-")
		require.NoError(t, err)
	}
	dir = filepath.Join(dir, t.Name())
	require.NoError(t, os.MkdirAll(dir, 0o755))
	t.Logf("screenshots and PDFs in %s", dir)
	return dir
}

// browser starts Debian's Chromium, headless, with a fresh profile.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s not found: run scripts/deps.sh chromium", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx), "start chromium")
	return ctx
}

func save(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
}

// demo is a fleet of the 13 wards as the service would show it: most
// devices up, a camera down in Hòa Cường Bắc, Nam Dương unreachable, an
// acknowledged alert and one that is not.
func demo(now time.Time) *status.Memory {
	var offices []status.Office
	for _, o := range reporttest.Wards() {
		offices = append(offices, status.Office{ID: o.ID, Name: o.Name})
	}
	m := status.NewMemory(offices...)
	for _, o := range offices {
		for class, n := range map[string]int{"door": 2, "hvac": 3, "server": 1, "camera": 4} {
			for i := 1; i <= n; i++ {
				dev := class + "-" + string(rune('0'+i))
				d := status.DeviceState{Ward: o.ID, Class: class, Device: dev, Up: true, LastSeen: now.Add(-time.Duration(3+i) * time.Second)}
				if o.ID == "nam-duong" {
					d.Up, d.LastSeen = false, now.Add(-25*time.Minute)
				}
				m.SetDevice(d)
			}
		}
	}
	m.SetDevice(status.DeviceState{Ward: "hoa-cuong-bac", Class: "camera", Device: "camera-3", Up: false, LastSeen: now.Add(-12 * time.Minute)})
	m.SetAlert(status.Alert{ID: "a1", Name: "WardUnreachable", Severity: "critical", Ward: "nam-duong", Since: now.Add(-24 * time.Minute),
		SummaryVI: "Mất kết nối toàn bộ trụ sở Nam Dương (100% thiết bị ngoại tuyến)", SummaryEN: "Office Nam Dương is unreachable (100% of its devices offline)"})
	m.SetAlert(status.Alert{ID: "a2", Name: "DeviceOffline", Severity: "warning", Ward: "hoa-cuong-bac", Class: "camera", Device: "camera-3",
		Since: now.Add(-11 * time.Minute), Acked: true, AckBy: "kỹ thuật viên Minh",
		SummaryVI: "Thiết bị camera-3 (camera) tại Hòa Cường Bắc mất kết nối", SummaryEN: "Device camera-3 (camera) at Hòa Cường Bắc is offline"})
	// Nam Dương's devices, each offline (their alerts held back by the
	// ward's): one group of ten.
	for i, class := range []string{"door", "door", "hvac", "hvac", "hvac", "server", "camera", "camera", "camera", "camera"} {
		dev := fmt.Sprintf("%s-%d", class, i+1)
		m.SetAlert(status.Alert{ID: "nd-" + dev, Name: "DeviceOffline", Severity: "warning", Ward: "nam-duong", Class: class, Device: dev,
			Since:     now.Add(-25*time.Minute + time.Duration(i)*time.Second),
			SummaryVI: "Thiết bị " + dev + " tại Nam Dương mất kết nối", SummaryEN: "Device " + dev + " at Nam Dương is offline"})
	}
	// Every device of Thanh Bình is up, but its server room is hot.
	m.SetAlert(status.Alert{ID: "a3", Name: "ServerRoomHot", Severity: "critical", Ward: "thanh-binh", Class: "hvac", Device: "hvac-1",
		Since:     now.Add(-6 * time.Minute),
		SummaryVI: "Phòng máy chủ Thanh Bình nóng: 31,5 °C (ngưỡng 28 °C)", SummaryEN: "Thanh Bình server room is hot: 31.5 °C (limit 28 °C)"})
	return m
}

// TestBrowserStatusPageAndReport loads the status page and the uptime
// report in Chromium in both languages, checks the key figures and the
// Vietnamese labels as the browser renders them, checks that the status
// page refreshes itself and fits a phone, prints the report on A4, and
// saves screenshots.
func TestBrowserStatusPageAndReport(t *testing.T) {
	now := reporttest.At("2026-04-02 08:00")
	mem := demo(now)
	clock := func() time.Time { return now }
	page1 := status.New(mem, status.Options{Now: clock, Refresh: time.Second, ReportPath: "/reports/uptime", AlertsPath: "/api/alerts"})

	gen := uptime.NewWith(fixedLoader{}, reporttest.Settings())
	gen.SetClock(clock)
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", page1)
	mux.Handle("GET /api/status", page1.API())
	mux.Handle("GET /reports/uptime", gen.Handler(nil))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	// The figures the report must show, computed here from the same data.
	r, err := reports.Build(reporttest.March2026(), reporttest.March, reporttest.Settings())
	require.NoError(t, err)
	avail, ok := r.District.Availability()
	require.True(t, ok)

	dir := artefacts(t)
	ctx := browser(t)
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return strings.TrimSpace(s)
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		save(t, dir, name, png)
	}

	// ---- status page, Vietnamese, on a phone
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("wards")),
	))
	assert.Equal(t, "Tình trạng thiết bị các phường", text("h1"))
	assert.Equal(t, "13 phường: 10 bình thường, 1 có cảnh báo, 1 suy giảm, 1 ngừng, 0 không rõ", text("#summary"))
	assert.Equal(t, "Suy giảm · 1 cảnh báo", text("#ward-hoa-cuong-bac .badge"))
	assert.Equal(t, "Ngừng hoạt động · 1 nghiêm trọng", text("#ward-nam-duong .badge"))
	assert.Equal(t, "1 nghiêm trọng", text("#ward-thanh-binh .badge"), "devices up, a critical alert: not OK")
	badge, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("#ward-thanh-binh .badge")).backgroundColor`))
	require.NoError(t, err)
	assert.Equal(t, "rgb(198, 40, 40)", badge, "red")
	assert.Regexp(t, `^Cập nhật lúc 02/04/2026 08:00 \(ICT, UTC\+7\)$`, text("#updated"))
	assert.Contains(t, text("#ward-hoa-cuong-bac"), "Camera")
	assert.Contains(t, text("#ward-hoa-cuong-bac"), "3/4 hoạt động")
	assert.Contains(t, text("#ward-thanh-binh"), "Máy chủ và UPS")
	alerts := text("#alerts")
	for _, want := range []string{"WardUnreachable", "Nghiêm trọng", "Mất kết nối toàn bộ trụ sở Nam Dương", "Chưa xác nhận", "Đã xác nhận bởi kỹ thuật viên Minh", "24 phút",
		"10 cảnh báo", "và 5 cảnh báo khác trong nhóm này"} {
		assert.Contains(t, alerts, want)
	}
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
	require.NoError(t, err)
	assert.LessOrEqual(t, width, 390, "no sideways scrolling on a phone")
	shot("status.vi.phone.png")

	// It refreshes itself: a camera comes back, the page says so without a reload.
	mem.SetDevice(status.DeviceState{Ward: "hoa-cuong-bac", Class: "camera", Device: "camera-3", Up: true, LastSeen: now})
	mem.Resolve("a2")
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("summary").textContent.includes("11 bình thường")`,
		chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(200*time.Millisecond)))
	require.NoError(t, err, "the page did not refresh itself")
	assert.Equal(t, "Bình thường", text("#ward-hoa-cuong-bac .badge"))

	// ---- status page, English, on a desktop
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(srv.URL+"/?lang=en"),
		chromedp.WaitVisible(chromedp.ID("wards")),
	))
	assert.Equal(t, "Ward equipment status", text("h1"))
	assert.Equal(t, "13 wards: 11 ok, 1 alerting, 0 degraded, 1 down, 0 unknown", text("#summary"))
	assert.Equal(t, "Down · 1 critical", text("#ward-nam-duong .badge"))
	assert.Equal(t, "1 critical", text("#ward-thanh-binh .badge"))
	assert.Contains(t, text("#alerts"), "Office Nam Dương is unreachable")
	shot("status.en.desktop.png")

	// ---- the report, Vietnamese
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/reports/uptime?from=2026-03-01&to=2026-03-31"),
		chromedp.WaitVisible(chromedp.ID("district-availability")),
	))
	assert.Equal(t, "Báo cáo thời gian hoạt động thiết bị", text("h1"))
	assert.Equal(t, i18n.VI.Percent(avail, 2), text("#district-availability .value"))
	assert.Equal(t, "98,95 %", text("#district-availability .value"))
	assert.Equal(t, i18n.VI.Int(r.District.Cur.Incidents), text("#incidents .value"))
	assert.Equal(t, "130", text("#devices .value"))
	meta := text("dl.meta")
	assert.Contains(t, meta, "từ 01/03/2026 đến hết 31/03/2026")
	assert.Contains(t, meta, "Giờ làm việc")
	byClass := text("table.classes")
	for _, want := range []string{"Cửa tự động", "Điều hòa", "Máy chủ và UPS", "Camera", "Không đạt", "Toàn quận"} {
		assert.Contains(t, byClass, want)
	}
	assert.Contains(t, text("table.wards"), "Hòa Thuận Đông")
	svgs, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.querySelectorAll('svg.chart').length"))
	require.NoError(t, err)
	assert.Equal(t, 3, svgs, "ward bars, heat map, incidents per day")
	heat, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.querySelectorAll('#heatmap rect').length"))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, heat, 13*31, "a cell per ward and day")
	shot("report.vi.png")
	pdf, err := chromedp.Run(ctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4), chromedp.PDFPrintBackground(),
		func(p *page.PrintToPDFParams) { css := true; p.PreferCSSPageSize = &css }))
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(pdf, []byte("%PDF")))
	save(t, dir, "report.vi.pdf", pdf)

	// ---- the report, English
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/reports/uptime?from=2026-03-01&to=2026-03-31&lang=en"),
		chromedp.WaitVisible(chromedp.ID("district-availability")),
	))
	assert.Equal(t, "Equipment uptime report", text("h1"))
	assert.Equal(t, "98.95%", text("#district-availability .value"))
	assert.Contains(t, text("dl.meta"), "2026-03-01 to 2026-03-31 inclusive")
	assert.Contains(t, text("table.classes"), "Missed")
	shot("report.en.png")
}

type fixedLoader struct{}

func (fixedLoader) Load(context.Context, loader.Request, loader.Progress) (*reports.Dataset, error) {
	return reporttest.March2026(), nil
}
