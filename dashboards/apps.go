//lint:file-ignore SA1019 the SDK deprecates its v1 dashboard model for dashboardv2, but v1 (the classic JSON model) is what Grafana 11's POST /api/dashboards/db and file provisioning take; v2 needs Grafana 12's /apis API.

package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// The service apps' scraped metrics, stored the way Telegraf's prometheus
// format (metric_version 1) stores them: one measurement per metric family,
// tags ward, class=app, device=<app>, fields counter, gauge, or sum and count
// (and one field per bucket bound) for a histogram.
const (
	appTickets         = "onestop_tickets_issued_total"
	appQueue           = "onestop_queue_length"
	appWait            = "onestop_wait_seconds"
	appDossiersIn      = "onestop_dossiers_received_total"
	appDossiersDone    = "onestop_dossiers_processed_total"
	appDossiersOverdue = "onestop_dossiers_overdue"
	scrapeMeasurement  = "scrape"
	appGroupBy         = `GROUP BY time($__interval), "ward", "device"`
	appAlias           = "$tag_ward/$tag_device"
)

// apps is the service apps dashboard: queue length, waiting time, tickets and
// dossiers per ward.
func (g *gen) apps() (string, *dashboard.DashboardBuilder) {
	d := g.newDashboard(AppsUID,
		g.t("facmon · Ứng dụng dịch vụ công", "facmon · Service apps"),
		g.t("Ứng dụng của bộ phận Một cửa (máy cấp số thứ tự, xử lý hồ sơ) theo phường, từ số liệu /metrics mà facmon thu thập; tên chuỗi là phường/ứng dụng.",
			"The one-stop offices' apps (queue ticket kiosk, dossier processing) by ward, from the /metrics facmon scrapes; series are named ward/app.")).
		Time("now-24h", "now")
	q := func(sel, measurement string) string {
		return fmt.Sprintf(`SELECT %s FROM %q WHERE $__timeFilter %s`, sel, measurement, appGroupBy)
	}
	diff := `non_negative_difference(last("counter"))`

	d.WithRow(dashboard.NewRowBuilder(g.t("Người dân chờ", "Citizens waiting")))
	d.WithPanel(g.timeSeries(g.t("Số người đang chờ", "Queue length"),
		g.t("Số người đang xếp hàng chờ được phục vụ.", "Citizens queueing to be served."), "short").
		Min(0).
		WithTarget(influx("A", q(`last("gauge")`, appQueue)).Alias(appAlias)).
		Transformations(g.wardRenames()))
	d.WithPanel(g.timeSeries(g.t("Thời gian chờ trung bình", "Mean waiting time"),
		g.t("Thời gian chờ trung bình của những người được phục vụ trong từng khoảng (tổng/số lượng của histogram onestop_wait_seconds).",
			"Mean wait of the citizens served in each interval (sum/count of the onestop_wait_seconds histogram)."), "s").
		Min(0).
		WithTarget(influx("A", q(`non_negative_difference(last("sum")) / non_negative_difference(last("count"))`, appWait)).Alias(appAlias)).
		Transformations(g.wardRenames()))
	d.WithPanel(g.bars(g.t("Số vé đã phát", "Tickets issued"),
		g.t("Số vé thứ tự phát ra trong từng khoảng thời gian.", "Queue tickets issued per interval."), "short").
		WithTarget(influx("A", q(diff, appTickets)).Alias(appAlias)).
		Transformations(g.wardRenames()))
	d.WithPanel(g.barGauge(g.t("Số vé đã phát hôm nay", "Tickets issued today"),
		g.t("Tổng số vé thứ tự phát ra từ đầu ngày, theo phường.", "Queue tickets issued since the start of the day, by ward."), "short", "lastNotNull").
		TimeFrom("now/d").
		Min(0).
		Thresholds(thresholds(blue)).
		WithTarget(influx("A", fmt.Sprintf(`SELECT sum("n") FROM (SELECT %s AS "n" FROM %q WHERE $__timeFilter %s) WHERE $__timeFilter GROUP BY "ward"`,
			diff, appTickets, appGroupBy)).Alias("$tag_ward")).
		Transformations(g.wardRenames()))

	d.WithRow(dashboard.NewRowBuilder(g.t("Hồ sơ", "Dossiers")))
	d.WithPanel(g.bars(g.t("Hồ sơ tiếp nhận và đã xử lý", "Dossiers received and processed"),
		g.t("Số hồ sơ tiếp nhận và số hồ sơ đã xử lý trong từng khoảng thời gian.", "Dossiers received and processed per interval."), "short").
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNone)).
		WithTarget(influx("A", q(diff, appDossiersIn)).Alias(appAlias + " · " + g.t("tiếp nhận", "received"))).
		WithTarget(influx("B", q(diff, appDossiersDone)).Alias(appAlias + " · " + g.t("đã xử lý", "processed"))).
		Transformations(g.wardRenames()))
	d.WithPanel(g.timeSeries(g.t("Hồ sơ quá hạn", "Overdue dossiers"),
		g.t("Số hồ sơ đang quá hạn giải quyết.", "Dossiers past their due date."), "short").
		Min(0).
		WithTarget(influx("A", q(`last("gauge")`, appDossiersOverdue)).Alias(appAlias)).
		Transformations(g.wardRenames()))

	d.WithRow(dashboard.NewRowBuilder(g.t("Thu thập số liệu", "Scraping")))
	d.WithPanel(g.timeline(g.t("Ứng dụng trả lời", "App up"),
		g.t("facmon đọc được /metrics của ứng dụng (1) hay không (0: ứng dụng ngừng, quá thời gian hoặc trả về dữ liệu hỏng).",
			"Whether facmon could scrape the app's /metrics (1) or not (0: down, timed out or garbage)."),
		mapping{"1", g.t("Hoạt động", "Up"), green}, mapping{"0", g.t("Không trả lời", "Down"), red}).
		WithTarget(influx("A", q(`min("up")`, scrapeMeasurement)).Alias(appAlias)).
		Transformations(g.wardRenames()))
	d.WithPanel(g.timeSeries(g.t("Thời gian thu thập", "Scrape duration"),
		g.t("Thời gian đọc /metrics của ứng dụng.", "How long reading the app's /metrics took."), "s").
		Min(0).
		WithTarget(influx("A", q(`max("duration_seconds")`, scrapeMeasurement)).Alias(appAlias)).
		Transformations(g.wardRenames()))
	return AppsUID, d
}
