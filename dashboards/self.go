//lint:file-ignore SA1019 the SDK deprecates its v1 dashboard model for dashboardv2, but v1 (the classic JSON model) is what Grafana 11's POST /api/dashboards/db and file provisioning take; v2 needs Grafana 12's /apis API.

package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// self is the dashboard of facmon itself, from its own /metrics scraped by
// Prometheus: ingest rate, rejects by reason, spool, write latency, alert
// notifications.
func (g *gen) self() (string, *dashboard.DashboardBuilder) {
	d := g.newDashboard(SelfUID,
		g.t("facmon · Hoạt động của facmon", "facmon · facmon itself"),
		g.t("Số liệu /metrics của chính facmon (qua Prometheus, nguồn dữ liệu facmon-prometheus): thu nhận, loại bỏ, hàng đợi đĩa, ghi InfluxDB, thông báo cảnh báo.",
			"facmon's own /metrics (through Prometheus, datasource facmon-prometheus): ingest, rejects, disk spool, InfluxDB writes, alert notifications.")).
		Time("now-3h", "now")
	const rate = "[$__rate_interval]"

	d.WithRow(dashboard.NewRowBuilder(g.t("Thu nhận", "Ingest")))
	d.WithPanel(g.promSeries(g.t("Tốc độ thu nhận", "Ingest rate"),
		g.t("Bản tin nhận được và điểm dữ liệu InfluxDB đã nhận, mỗi giây.", "Readings received and points InfluxDB accepted, per second."), "suffix:/s").
		WithTarget(promQL("A", `sum(rate(facmon_readings_received_total`+rate+`))`, g.t("nhận", "received"))).
		WithTarget(promQL("B", `sum(rate(facmon_points_written_total`+rate+`))`, g.t("ghi vào InfluxDB", "written to InfluxDB"))))
	d.WithPanel(g.promSeries(g.t("Bản tin bị loại theo lý do", "Rejected readings by reason"),
		g.t("Dữ liệu đầu vào hỏng bị bỏ qua, mỗi giây, theo lý do.", "Bad input dropped, per second, by reason."), "suffix:/s").
		WithTarget(promQL("A", `sum by (reason) (rate(facmon_readings_rejected_total`+rate+`))`, "{{reason}}")))
	d.WithPanel(g.promSeries(g.t("Bản tin chờ xác nhận", "Readings awaiting acknowledgement"),
		g.t("Bản tin đã nhận nhưng chưa ghi xong (chưa xác nhận với broker).", "Readings received and not yet committed (acks held)."), "short").
		Min(0).
		WithTarget(promQL("A", `sum(facmon_ingest_pending_readings)`, g.t("đang chờ", "pending"))))
	d.WithPanel(g.promSeries(g.t("Kết nối MQTT", "MQTT connection"),
		g.t("1 khi facmon đang kết nối với broker.", "1 while facmon is connected to its broker."), "short").
		Min(0).
		Max(1).
		WithTarget(promQL("A", `facmon_mqtt_connected`, "{{instance}}")))

	d.WithRow(dashboard.NewRowBuilder(g.t("Hàng đợi đĩa (spool)", "Disk spool")))
	d.WithPanel(g.promSeries(g.t("Dung lượng spool", "Spool size"),
		g.t("Dữ liệu đã xác nhận, đang chờ trên đĩa để ghi vào InfluxDB.", "Acknowledged data waiting on disk for InfluxDB."), "bytes").
		Min(0).
		WithTarget(promQL("A", `sum(facmon_spool_bytes)`, g.t("byte", "bytes"))))
	d.WithPanel(g.promSeries(g.t("Bản tin trong spool", "Readings in the spool"), "", "short").
		Min(0).
		WithTarget(promQL("A", `sum(facmon_spool_readings)`, g.t("bản tin", "readings"))))
	d.WithPanel(g.promSeries(g.t("Tuổi bản tin cũ nhất trong spool", "Age of the oldest spooled reading"),
		g.t("Tăng dần khi InfluxDB không nhận dữ liệu.", "It grows while InfluxDB is not accepting data."), "s").
		Min(0).
		WithTarget(promQL("A", `max(facmon_spool_oldest_record_age_seconds)`, g.t("tuổi", "age"))))

	d.WithRow(dashboard.NewRowBuilder(g.t("Ghi vào InfluxDB", "InfluxDB writes")))
	latency := `histogram_quantile(%s, sum by (le) (rate(facmon_influx_write_duration_seconds_bucket` + rate + `)))`
	d.WithPanel(g.promSeries(g.t("Độ trễ ghi InfluxDB", "InfluxDB write latency"),
		g.t("Phân vị 50 và 99 của thời gian một lần ghi.", "50th and 99th percentile of one write's duration."), "s").
		Min(0).
		WithTarget(promQL("A", fmt.Sprintf(latency, "0.5"), "p50")).
		WithTarget(promQL("B", fmt.Sprintf(latency, "0.99"), "p99")))
	d.WithPanel(g.promSeries(g.t("Lỗi ghi InfluxDB", "InfluxDB write errors"),
		g.t("Lần ghi thất bại mỗi giây, theo loại lỗi (sẽ được thử lại).", "Failed writes per second by kind (they are retried)."), "suffix:/s").
		WithTarget(promQL("A", `sum by (kind) (rate(facmon_influx_write_errors_total`+rate+`))`, "{{kind}}")))
	d.WithPanel(g.promSeries(g.t("Điểm dữ liệu bị cách ly", "Points quarantined"),
		g.t("Điểm InfluxDB từ chối vĩnh viễn (400/422), mỗi giây; xem facmon quarantine list.", "Points InfluxDB refused for good (400/422), per second; see facmon quarantine list."), "suffix:/s").
		WithTarget(promQL("A", `sum by (status) (rate(facmon_points_quarantined_total`+rate+`))`, "HTTP {{status}}")))

	d.WithRow(dashboard.NewRowBuilder(g.t("Cảnh báo và thông báo", "Alerts and notifications")))
	d.WithPanel(g.promSeries(g.t("Cảnh báo đang hoạt động", "Alerts firing"),
		g.t("Số cảnh báo đang hoạt động và số lần chuyển trạng thái mỗi giây, theo trạng thái mới.", "Alerts firing now, and state changes per second by new state."), "short").
		Min(0).
		WithTarget(promQL("A", `sum(facmon_alerts_firing)`, g.t("đang hoạt động", "firing"))).
		WithTarget(promQL("B", `sum by (state) (rate(facmon_alert_transitions_total`+rate+`))`, g.t("chuyển sang {{state}} /s", "to {{state}} /s"))))
	d.WithPanel(g.promSeries(g.t("Thông báo cảnh báo đã gửi", "Alert notifications sent"),
		g.t("Yêu cầu gửi tới Alertmanager và webhook mỗi giây, theo kênh và kết quả; thông báo bị bỏ cuộc (phải luôn bằng 0).",
			"Requests to Alertmanager and webhooks per second, by notifier and result; notifications given up (must stay 0)."), "suffix:/s").
		WithTarget(promQL("A", `sum by (notifier, result) (rate(facmon_notifications_total`+rate+`))`, "{{notifier}} {{result}}")).
		WithTarget(promQL("B", `sum by (notifier) (rate(facmon_notification_failures_total`+rate+`))`, g.t("{{notifier}} bỏ cuộc", "{{notifier}} given up"))))
	return SelfUID, d
}
