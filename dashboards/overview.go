//lint:file-ignore SA1019 the SDK deprecates its v1 dashboard model for dashboardv2, but v1 (the classic JSON model) is what Grafana 11's POST /api/dashboards/db and file provisioning take; v2 needs Grafana 12's /apis API.

package dashboards

import (
	"fmt"
	"net/url"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// classFields are, per device class, a field every reading of the class
// carries: counting it counts the readings.
var classFields = map[string]string{
	"door":   "state",
	"hvac":   "temp_c",
	"server": "cpu_pct",
	"camera": "recording",
}

// overview is the district overview: a tile per ward with its worst current
// state, the active alerts, availability today and this month, readings per
// second.
func (g *gen) overview() (string, *dashboard.DashboardBuilder) {
	d := g.newDashboard(OverviewUID,
		g.t("facmon · Tổng quan các phường", "facmon · District overview"),
		g.t("Tình trạng thiết bị và ứng dụng của các bộ phận Một cửa điện tử cấp phường: mỗi ô là một phường, màu theo tình trạng xấu nhất hiện tại; bấm vào ô để xem chi tiết phường.",
			"Equipment and service apps of the ward one-stop offices: one tile per ward, coloured by its worst current state; click a tile for the ward's details."))

	d.WithRow(dashboard.NewRowBuilder(g.t("Tình trạng hiện tại của các phường", "Current state of the wards")))
	for _, o := range g.Offices {
		name := o.Name
		if name == "" {
			name = o.ID
		}
		link := "/d/" + WardUID + "?var-ward=" + url.QueryEscape(o.ID) + "&${__url_time_range}"
		d.WithPanel(g.worstState(name, g.t(
			"Tình trạng xấu nhất hiện tại của phường "+name+": thiết bị mất kết nối (5 phút qua) và cảnh báo đang hoạt động.",
			"Worst current state of ward "+name+": devices offline (past 5 minutes) and active alerts."), wardEquals(o.ID)).
			DataLinks([]cog.Builder[dashboard.DashboardLink]{
				dataLink(g.t("Chi tiết phường ", "Ward details: ")+name, link),
			}).
			Height(4).
			Span(4))
	}

	d.WithRow(dashboard.NewRowBuilder(g.t("Cảnh báo", "Alerts")))
	d.WithPanel(g.activeAlerts(g.t("Cảnh báo đang hoạt động", "Active alerts"), ""))

	d.WithRow(dashboard.NewRowBuilder(g.t("Độ sẵn sàng của thiết bị", "Device availability")))
	availability := `SELECT mean("up") * 100 FROM "device_availability" WHERE $__timeFilter GROUP BY "ward"`
	desc := g.t("Tỷ lệ thời gian thiết bị trực tuyến (trung bình của tất cả thiết bị trong phường, đo mỗi phút).",
		"Share of time the devices were online (mean over all of the ward's devices, sampled every minute).")
	d.WithPanel(g.availability(g.t("Độ sẵn sàng hôm nay", "Availability today"), desc).
		TimeFrom("now/d").
		WithTarget(influx("A", availability).Alias("$tag_ward")).
		Transformations(g.wardRenames()))
	d.WithPanel(g.availability(g.t("Độ sẵn sàng tháng này", "Availability this month"), desc).
		TimeFrom("now/M").
		WithTarget(influx("A", availability).Alias("$tag_ward")).
		Transformations(g.wardRenames()))

	d.WithRow(dashboard.NewRowBuilder(g.t("Dữ liệu thu nhận", "Ingested data")))
	rate := g.timeSeries(g.t("Số bản ghi mỗi giây", "Readings per second"),
		g.t("Bản ghi đo đạc đã lưu vào InfluxDB, theo loại thiết bị.", "Readings stored in InfluxDB, by device class."),
		"suffix:/s").
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal).Group("A")).
		Span(fullWidth)
	for i, c := range Classes() {
		rate.WithTarget(influx(string(rune('A'+i)), fmt.Sprintf(
			`SELECT count(%q) * 1000 / $__interval_ms FROM %q WHERE $__timeFilter GROUP BY time($__interval) fill(0)`,
			classFields[c], c)).Alias(g.className(c)))
	}
	d.WithPanel(rate)
	return OverviewUID, d
}
