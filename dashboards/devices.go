//lint:file-ignore SA1019 the SDK deprecates its v1 dashboard model for dashboardv2, but v1 (the classic JSON model) is what Grafana 11's POST /api/dashboards/db and file provisioning take; v2 needs Grafana 12's /apis API.

package dashboards

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// panelKind is how a device metric is drawn.
type panelKind int

const (
	lineChart     panelKind = iota
	barChart                // a count per interval
	stateTimeline           // a state per interval
)

// series is one InfluxQL selection of a metric panel.
type series struct {
	// sel is the SELECT expression (an aggregate: GROUP BY time follows).
	sel string
	// label ends the series name after the device, "" for none.
	label string
}

// metric is a panel of one device class, drawn the same way on the ward
// dashboard (one series per device of $ward) and on the class dashboard (one
// series per device of every ward).
type metric struct {
	title, description string
	kind               panelKind
	unit               string
	series             []series
	mappings           []mapping
	min, max           *float64
	// dashedRegex makes the series whose name matches it dashed (set points).
	dashedRegex string
}

// classMetrics are the panels of a device class.
func (g *gen) classMetrics(class string) []metric {
	pct0, pct100 := ptr(0.0), ptr(100.0)
	switch class {
	case "door":
		return []metric{
			{title: g.t("Trạng thái cửa", "Door state"), kind: stateTimeline,
				description: g.t("Trạng thái cuối cùng của mỗi cửa trong từng khoảng thời gian.", "Each door's last state in every interval."),
				series:      []series{{sel: `last("state")`}},
				mappings: []mapping{
					{"open", g.t("Mở", "Open"), yellow},
					{"closed", g.t("Đóng", "Closed"), green},
				}},
			{title: g.t("Số lần đóng mở", "Door cycles"), kind: barChart, unit: "short",
				description: g.t("Số chu kỳ đóng mở trong từng khoảng thời gian (hiệu của bộ đếm cycles).", "Open/close cycles per interval (difference of the cycles counter)."),
				series:      []series{{sel: `non_negative_difference(max("cycles"))`}}},
			{title: g.t("Dòng điện động cơ", "Motor current"), kind: lineChart, unit: "amp",
				description: g.t("Dòng điện lớn nhất của động cơ cửa; tăng cao khi cửa bị kẹt.", "Peak motor current; it rises when a door jams."),
				series:      []series{{sel: `max("motor_current_a")`}}},
			{title: g.t("Mã lỗi cửa", "Door fault code"), kind: stateTimeline,
				description: g.t("Mã lỗi lớn nhất do bộ điều khiển cửa báo; 0 là không lỗi.", "Highest fault code the door controller reported; 0 is no fault."),
				series:      []series{{sel: `max("fault")`}},
				mappings:    []mapping{{"0", g.t("Không lỗi", "No fault"), green}}},
		}
	case "hvac":
		return []metric{
			{title: g.t("Nhiệt độ và nhiệt độ đặt", "Temperature vs set point"), kind: lineChart, unit: "celsius",
				description: g.t("Nhiệt độ phòng đo được (nét liền) và nhiệt độ đặt của điều hòa (nét đứt).", "Measured room temperature (solid) and the unit's set point (dashed)."),
				series: []series{
					{sel: `mean("temp_c")`, label: g.t("nhiệt độ", "temperature")},
					{sel: `mean("setpoint_c")`, label: g.t("nhiệt độ đặt", "set point")},
				},
				dashedRegex: ".*" + g.t("nhiệt độ đặt", "set point") + "$"},
			{title: g.t("Công suất điện", "Power"), kind: lineChart, unit: "watt", min: pct0,
				description: g.t("Công suất tiêu thụ trung bình của mỗi máy điều hòa.", "Mean power draw of each unit."),
				series:      []series{{sel: `mean("power_w")`}}},
			{title: g.t("Độ ẩm", "Humidity"), kind: lineChart, unit: "humidity", min: pct0, max: pct100,
				series: []series{{sel: `mean("humidity_pct")`}}},
			{title: g.t("Máy nén hoạt động", "Running"), kind: stateTimeline,
				description: g.t("Điều hòa đang chạy hay đã dừng.", "Whether the unit is running."),
				series:      []series{{sel: `last("running")`}},
				mappings: []mapping{
					{"true", g.t("Đang chạy", "Running"), green},
					{"false", g.t("Dừng", "Stopped"), grey},
				}},
		}
	case "server":
		return []metric{
			{title: g.t("CPU, bộ nhớ, ổ đĩa", "CPU, memory, disk"), kind: lineChart, unit: "percent", min: pct0, max: pct100,
				series: []series{
					{sel: `mean("cpu_pct")`, label: "CPU"},
					{sel: `mean("mem_pct")`, label: g.t("bộ nhớ", "memory")},
					{sel: `max("disk_pct")`, label: g.t("ổ đĩa", "disk")},
				}},
			{title: g.t("Nhiệt độ máy chủ", "Server temperature"), kind: lineChart, unit: "celsius",
				series: []series{{sel: `max("temp_c")`}}},
			{title: g.t("Dung lượng pin UPS", "UPS charge"), kind: lineChart, unit: "percent", min: pct0, max: pct100,
				series: []series{{sel: `min("ups_charge_pct")`}}},
			{title: g.t("Nguồn điện UPS", "UPS power source"), kind: stateTimeline,
				description: g.t("UPS đang chạy bằng pin (mất điện lưới) hay bằng điện lưới.", "Whether the UPS runs on battery (mains lost) or on mains."),
				series:      []series{{sel: `last("ups_on_battery")`}},
				mappings: []mapping{
					{"true", g.t("Đang dùng pin", "On battery"), orange},
					{"false", g.t("Điện lưới", "Mains"), green},
				}},
		}
	case "camera":
		return []metric{
			{title: g.t("Ghi hình", "Recording"), kind: stateTimeline,
				description: g.t("Camera có đang ghi hình hay không.", "Whether each camera is recording."),
				series:      []series{{sel: `last("recording")`}},
				mappings: []mapping{
					{"true", g.t("Đang ghi", "Recording"), green},
					{"false", g.t("Không ghi", "Not recording"), red},
				}},
			{title: g.t("Số khung hình mỗi giây", "Frames per second"), kind: lineChart, unit: "suffix: fps", min: pct0,
				series: []series{{sel: `mean("fps")`}}},
			{title: g.t("Dung lượng lưu trữ đã dùng", "Storage used"), kind: lineChart, unit: "percent", min: pct0, max: pct100,
				series: []series{{sel: `max("storage_pct")`}}},
			{title: g.t("Tốc độ bit", "Bit rate"), kind: lineChart, unit: "Kbits", min: pct0,
				series: []series{{sel: `mean("bitrate_kbps")`}}},
		}
	}
	return nil
}

// scope is where a metric panel looks: the InfluxQL condition, the tags it
// groups by, the series-name pattern, and the renames applied to the names.
type scope struct {
	cond    string // "" or a condition ANDed with $__timeFilter
	groupBy string
	alias   string
	renames []dashboard.DataTransformerConfig
	// wideTimelines gives state timelines the full width and more height
	// (one row per device of every ward).
	wideTimelines bool
}

// panel draws metric m of class in scope s.
func (g *gen) panel(class string, m metric, s scope) cog.Builder[dashboard.Panel] {
	where := "$__timeFilter"
	if s.cond != "" {
		where = s.cond + " AND " + where
	}
	var targets []*InfluxQLBuilder
	for i, se := range m.series {
		alias := s.alias
		if se.label != "" {
			alias += " · " + se.label
		}
		q := fmt.Sprintf(`SELECT %s FROM %q WHERE %s GROUP BY time($__interval), %s`, se.sel, class, where, s.groupBy)
		targets = append(targets, influx(string(rune('A'+i)), q).Alias(alias))
	}
	switch m.kind {
	case stateTimeline:
		p := g.timeline(m.title, m.description, m.mappings...).Transformations(s.renames)
		if s.wideTimelines {
			p.Span(fullWidth).Height(14)
		}
		if len(m.mappings) == 1 {
			// Only the normal value is named: anything else is a fault.
			p.Thresholds(thresholds(green, step{1, red}))
		}
		for _, t := range targets {
			p.WithTarget(t)
		}
		return p
	default:
		p := g.timeSeries(m.title, m.description, m.unit).Transformations(s.renames)
		if m.kind == barChart {
			p = g.bars(m.title, m.description, m.unit).Transformations(s.renames)
		}
		if m.min != nil {
			p.Min(*m.min)
		}
		if m.max != nil {
			p.Max(*m.max)
		}
		if m.dashedRegex != "" {
			p.OverrideByRegexp(m.dashedRegex, []dashboard.DynamicConfigValue{
				{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
			})
		}
		for _, t := range targets {
			p.WithTarget(t)
		}
		return p
	}
}

// ward is the ward detail dashboard: variable ward, then the ward's doors,
// air conditioning, server with UPS, and cameras.
func (g *gen) ward() (string, *dashboard.DashboardBuilder) {
	const variableQuery = `SHOW TAG VALUES WITH KEY = "ward"`
	d := g.newDashboard(WardUID,
		g.t("facmon · Chi tiết phường", "facmon · Ward detail"),
		g.t("Thiết bị của bộ phận Một cửa điện tử một phường: cửa tự động, điều hòa, máy chủ và UPS, camera.",
			"The equipment of one ward's one-stop office: automatic doors, air conditioning, server with UPS, cameras.")).
		WithVariable(dashboard.NewQueryVariableBuilder("ward").
			Label(g.t("Phường", "Ward")).
			Description(g.t("Mã phường (thẻ ward trong InfluxDB)", "Ward id (the ward tag in InfluxDB)")).
			Datasource(influxRef).
			Query(dashboard.StringOrMap{String: ptr(variableQuery)}).
			Definition(variableQuery).
			Refresh(dashboard.VariableRefreshOnDashboardLoad).
			Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(false).
			IncludeAll(false))

	d.WithRow(dashboard.NewRowBuilder(g.t("Phường $ward", "Ward $ward")))
	d.WithPanel(g.worstState(g.t("Tình trạng hiện tại", "Current state"),
		g.t("Tình trạng xấu nhất hiện tại: thiết bị mất kết nối (5 phút qua) và cảnh báo đang hoạt động.",
			"Worst current state: devices offline (past 5 minutes) and active alerts."), wardVar).
		Height(tsHeight).
		Span(6))
	d.WithPanel(g.availability(g.t("Độ sẵn sàng hôm nay theo loại thiết bị", "Availability today by device class"),
		g.t("Tỷ lệ thời gian thiết bị trực tuyến hôm nay.", "Share of today the devices were online.")).
		TimeFrom("now/d").
		WithTarget(influx("A", `SELECT mean("up") * 100 FROM "device_availability" WHERE `+wardVar+` AND $__timeFilter GROUP BY "class"`).Alias("$tag_class")).
		Transformations(g.classRenames()).
		Height(tsHeight).
		Span(6))
	d.WithPanel(g.timeline(g.t("Kết nối thiết bị", "Device connectivity"),
		g.t("Thiết bị trực tuyến hay mất kết nối, theo bộ theo dõi kết nối (mỗi phút).", "Whether each device was online, as the liveness tracker saw it (every minute)."),
		g.upMappings()...).
		WithTarget(influx("A", `SELECT min("up") FROM "device_availability" WHERE `+wardVar+` AND $__timeFilter GROUP BY time($__interval), "class", "device"`).Alias("$tag_device")).
		Height(tsHeight))
	d.WithPanel(g.activeAlerts(g.t("Cảnh báo đang hoạt động của phường", "Active alerts of the ward"), wardVar).Span(halfWidth))
	d.WithPanel(g.statusChanges())

	for _, c := range Classes() {
		d.WithRow(dashboard.NewRowBuilder(g.className(c)))
		for _, m := range g.classMetrics(c) {
			d.WithPanel(g.panel(c, m, scope{cond: wardVar, groupBy: `"device"`, alias: "$tag_device"}))
		}
	}
	return WardUID, d
}

// statusChanges lists each device's last online/offline status message of
// $ward (device_status is written only when the status changes, so the query
// is not bounded by the time picker).
func (g *gen) statusChanges() cog.Builder[dashboard.Panel] {
	at := g.t("Thời điểm", "Time")
	return g.table(g.t("Trạng thái MQTT gần nhất của thiết bị", "Latest MQTT status of each device"),
		g.t("Bản tin trạng thái online/offline (kể cả last will) gần nhất của mỗi thiết bị và thời điểm nhận.",
			"Each device's latest online/offline status message (last will included) and when it came."),
		`SELECT last("up") AS "up" FROM "device_status" WHERE `+wardVar+` GROUP BY "class", "device"`, at,
		column("Time", at, nil),
		column("class", g.t("Loại thiết bị", "Device class"), g.classMappings()),
		column("device", g.t("Thiết bị", "Device"), nil),
		column("up", g.t("Trạng thái", "Status"), valueMappings(g.upMappings()...)),
	).NoValue(g.t("Không có dữ liệu", "No data")).Span(halfWidth)
}

// classRenames show the device classes' display names instead of their ids
// in series names.
func (g *gen) classRenames() []dashboard.DataTransformerConfig {
	var out []dashboard.DataTransformerConfig
	for _, c := range append(Classes(), "app") {
		out = append(out, dashboard.DataTransformerConfig{
			Id:      "renameByRegex",
			Options: map[string]any{"regex": c, "renamePattern": strings.ReplaceAll(g.className(c), "$", "$$")},
		})
	}
	return out
}

// class is the dashboard of one device class across every ward.
func (g *gen) class(class string) (string, *dashboard.DashboardBuilder) {
	uid := ClassUIDPrefix + class
	name := g.className(class)
	d := g.newDashboard(uid,
		g.t("facmon · ", "facmon · ")+name+g.t(" — tất cả các phường", " — all wards"),
		g.t("Mọi thiết bị loại ", "Every device of class ")+name+g.t(" của tất cả các phường; tên chuỗi là phường/thiết bị.", " in every ward; series are named ward/device."))
	classCond := `"class" = ` + quoteString(class)

	d.WithRow(dashboard.NewRowBuilder(g.t("Tình trạng", "State")))
	d.WithPanel(g.availability(g.t("Độ sẵn sàng hôm nay", "Availability today"),
		g.t("Tỷ lệ thời gian thiết bị loại này trực tuyến hôm nay, theo phường.", "Share of today this class's devices were online, by ward.")).
		TimeFrom("now/d").
		WithTarget(influx("A", `SELECT mean("up") * 100 FROM "device_availability" WHERE `+classCond+` AND $__timeFilter GROUP BY "ward"`).Alias("$tag_ward")).
		Transformations(g.wardRenames()))
	d.WithPanel(g.activeAlerts(g.t("Cảnh báo đang hoạt động", "Active alerts"), classCond).Span(halfWidth).Height(10))

	d.WithRow(dashboard.NewRowBuilder(name))
	all := scope{groupBy: `"ward", "device"`, alias: "$tag_ward/$tag_device", renames: g.wardRenames(), wideTimelines: true}
	for _, m := range g.classMetrics(class) {
		d.WithPanel(g.panel(class, m, all))
	}
	return uid, d
}
