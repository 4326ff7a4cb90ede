//lint:file-ignore SA1019 the SDK deprecates its v1 dashboard model for dashboardv2, but v1 (the classic JSON model) is what Grafana 11's POST /api/dashboards/db and file provisioning take; v2 needs Grafana 12's /apis API.

package dashboards

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// gen holds the options while the dashboards are built.
type gen struct{ Options }

// t picks the text of the build's language.
func (g *gen) t(vi, en string) string {
	if g.Lang == English {
		return en
	}
	return vi
}

// Panel sizes on Grafana's 24-column grid.
const (
	fullWidth = 24
	halfWidth = 12
	tsHeight  = 8
)

var (
	influxRef = common.DataSourceRef{Type: ptr(InfluxDBType), Uid: ptr(InfluxUID)}
	promRef   = common.DataSourceRef{Type: ptr("prometheus"), Uid: ptr(PrometheusUID)}
)

// Colours of states, from Grafana's palette.
const (
	green   = "green"
	yellow  = "yellow"
	orange  = "orange"
	red     = "red"
	darkRed = "dark-red"
	blue    = "blue"
	grey    = "text"
)

// newDashboard starts a dashboard with what all of facmon's share.
func (g *gen) newDashboard(uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{Tag}).
		Timezone(g.Timezone).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Time("now-6h", "now").
		Refresh("1m").
		Link(built[dashboard.DashboardLink]{dashboard.DashboardLink{
			Title:      g.t("Bảng điều khiển facmon", "facmon dashboards"),
			Type:       dashboard.DashboardLinkTypeDashboards,
			Icon:       "external link",
			Tags:       []string{Tag},
			AsDropdown: true,
			KeepTime:   true,
		}})
}

// built is a value that is already built, for the SDK's builder arguments.
// (The SDK's DashboardLink builder always sets placement inControlsMenu,
// which hides the link in Grafana 12's controls menu.)
type built[T any] struct{ v T }

func (b built[T]) Build() (T, error) { return b.v, nil }

// dataLink is a link from a panel's values to a URL.
func dataLink(title, url string) cog.Builder[dashboard.DashboardLink] {
	return built[dashboard.DashboardLink]{dashboard.DashboardLink{
		Title: title, Type: dashboard.DashboardLinkTypeLink, Url: ptr(url), Tags: []string{},
	}}
}

// influx is a raw InfluxQL target on facmon's InfluxDB datasource.
func influx(refID, query string) *InfluxQLBuilder {
	return NewInfluxQL(InfluxUID, query).RefID(refID)
}

// promQL is a PromQL target on the Prometheus datasource that scrapes facmon.
func promQL(refID, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		RefId(refID).
		Datasource(promRef).
		Expr(expr).
		LegendFormat(legend).
		Range()
}

func legend() *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().
		DisplayMode(common.LegendDisplayModeList).
		Placement(common.LegendPlacementBottom).
		ShowLegend(true).
		Calcs([]string{})
}

func tooltip() *common.VizTooltipOptionsBuilder {
	return common.NewVizTooltipOptionsBuilder().
		Mode(common.TooltipDisplayModeMulti).
		Sort(common.SortOrderDescending)
}

func reduce(calc string) *common.ReduceDataOptionsBuilder {
	return common.NewReduceDataOptionsBuilder().Values(false).Calcs([]string{calc}).Fields("")
}

// step is a threshold: values from it on take its colour.
type step struct {
	from  float64
	color string
}

// thresholds colour values base below the first step.
func thresholds(base string, steps ...step) *dashboard.ThresholdsConfigBuilder {
	ts := []dashboard.Threshold{{Color: base}}
	for _, s := range steps {
		ts = append(ts, dashboard.Threshold{Value: ptr(s.from), Color: s.color})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(ts)
}

// mapping is one value-to-text entry of a value mapping.
type mapping struct{ value, text, color string }

// valueMappings maps values (numbers, strings, and true/false) to a text
// and a colour, in order.
func valueMappings(ms ...mapping) []dashboard.ValueMapping {
	var out []dashboard.ValueMapping
	values := map[string]dashboard.ValueMappingResult{}
	for i, m := range ms {
		r := dashboard.ValueMappingResult{Text: ptr(m.text), Color: ptr(m.color), Index: ptr(int32(i))}
		switch m.value {
		case "true", "false":
			// Booleans come from InfluxDB as JSON booleans: a special-value
			// mapping matches them, a value mapping would not.
			out = append(out, dashboard.ValueMapping{SpecialValueMap: &dashboard.SpecialValueMap{
				Type:    dashboard.MappingTypeSpecialValue,
				Options: dashboard.DashboardSpecialValueMapOptions{Match: dashboard.SpecialValueMatch(m.value), Result: r},
			}})
		default:
			values[m.value] = r
		}
	}
	if len(values) > 0 {
		out = append([]dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: values}}}, out...)
	}
	return out
}

// wardRenames are the transformations that show an office's display name
// instead of its id at the start of a series name: "thanh-binh" and
// "thanh-binh/door-1" become "Thanh Bình" and "Thanh Bình/door-1".
func (g *gen) wardRenames() []dashboard.DataTransformerConfig {
	var out []dashboard.DataTransformerConfig
	for _, o := range g.Offices {
		if o.Name == "" || o.Name == o.ID {
			continue
		}
		out = append(out, dashboard.DataTransformerConfig{
			Id: "renameByRegex",
			Options: map[string]any{
				"regex":         regexp.QuoteMeta(o.ID) + "(/.*)?",
				"renamePattern": strings.ReplaceAll(o.Name, "$", "$$") + "$1",
			},
		})
	}
	return out
}

// wardNameMappings shows an office's display name for its id in a table
// column.
func (g *gen) wardNameMappings() []dashboard.ValueMapping {
	var ms []mapping
	for _, o := range g.Offices {
		if o.Name != "" {
			ms = append(ms, mapping{o.ID, o.Name, grey})
		}
	}
	return valueMappings(ms...)
}

// timeSeries is a line chart of InfluxDB series.
func (g *gen) timeSeries(title, description, unit string) *timeseries.PanelBuilder {
	return lineChartOn(influxRef, title, description, unit).Interval(g.MinInterval)
}

// lineChartOn is a line chart of the series of a datasource.
func lineChartOn(ds common.DataSourceRef, title, description, unit string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(ds).
		Unit(unit).
		Legend(legend()).
		Tooltip(tooltip()).
		DrawStyle(common.GraphDrawStyleLine).
		LineInterpolation(common.LineInterpolationLinear).
		LineWidth(1).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever).
		SpanNulls(common.BoolOrFloat64{Bool: ptr(false)}).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdPaletteClassic)).
		Thresholds(thresholds(green)).
		Height(tsHeight).
		Span(halfWidth)
}

// bars is a time series drawn as bars: counts per interval.
func (g *gen) bars(title, description, unit string) *timeseries.PanelBuilder {
	return g.timeSeries(title, description, unit).
		DrawStyle(common.GraphDrawStyleBars).
		FillOpacity(80).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal).Group("A"))
}

// timeline is a state timeline: one row per series, coloured by the value
// mappings.
func (g *gen) timeline(title, description string, ms ...mapping) *statetimeline.PanelBuilder {
	return statetimeline.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(influxRef).
		Interval(g.MinInterval).
		ShowValue(common.VisibilityModeNever).
		MergeValues(true).
		RowHeight(0.9).
		AlignValue(common.TimelineValueAlignmentLeft).
		FillOpacity(80).
		LineWidth(0).
		Legend(legend()).
		Tooltip(tooltip()).
		Mappings(valueMappings(ms...)).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		Thresholds(thresholds(grey)).
		Height(tsHeight).
		Span(halfWidth)
}

// barGauge shows one bar per series, reduced to one value.
func (g *gen) barGauge(title, description, unit, calc string) *bargauge.PanelBuilder {
	return bargauge.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(influxRef).
		Unit(unit).
		ReduceOptions(reduce(calc)).
		Orientation(common.VizOrientationHorizontal).
		DisplayMode(common.BarGaugeDisplayModeBasic).
		ValueMode(common.BarGaugeValueModeColor).
		NamePlacement(common.BarGaugeNamePlacementAuto).
		ShowUnfilled(true).
		Sizing(common.BarGaugeSizingAuto).
		Legend(legend().ShowLegend(false)).
		Height(10).
		Span(halfWidth)
}

// availability is a bar gauge of mean(up)×100 over the panel's time range
// (timeFrom: now/d today, now/M this month), one bar per series.
func (g *gen) availability(title, description string) *bargauge.PanelBuilder {
	return g.barGauge(title, description, "percent", "lastNotNull").
		Min(0).
		Max(100).
		Decimals(2).
		Thresholds(thresholds(red, step{95, orange}, step{99, green})).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds))
}

// statPanel shows one big value.
func (g *gen) statPanel(title, description, unit string) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(influxRef).
		Unit(unit).
		ReduceOptions(reduce("lastNotNull")).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeBackground).
		JustifyMode(common.BigValueJustifyModeCenter).
		TextMode(common.BigValueTextModeValue).
		Orientation(common.VizOrientationAuto).
		WideLayout(true).
		ShowPercentChange(false).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds))
}

// promSeries is a line chart of Prometheus series.
func (g *gen) promSeries(title, description, unit string) *timeseries.PanelBuilder {
	return lineChartOn(promRef, title, description, unit)
}

// quoteString is an InfluxQL string literal.
func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// wardEquals is the InfluxQL condition for one office.
func wardEquals(id string) string { return `"ward" = ` + quoteString(id) }

// wardVar is the InfluxQL condition for the dashboard variable $ward, in the
// form Grafana's InfluxDB datasource expects for variables (a regex, so that
// a multi-value or "All" selection works too).
const wardVar = `"ward" =~ /^$ward$/`

// Windows of the "now" panels, which do not follow the time picker:
// device_availability is written every minute, so five minutes always hold
// each known device's latest state; an alert's last event can be much older
// than the dashboard's range while it still fires.
const (
	currentWindow     = "time > now() - 5m"
	activeAlertWindow = "time > now() - 30d"
)

// The levels of a ward's worst current state.
const (
	levelOK       = 0
	levelWarning  = 1
	levelOffline  = 2
	levelCritical = 3
)

// worstStateQuery returns, for the offices matched by cond, one series per
// source: 2 when a device is down (device_availability), 3 when a critical
// alert is firing or acknowledged, 1 for a warning one, else 0. Grafana's
// seriesToRows transformation and the max reducer make it one value. (InfluxQL
// keeps the series of different measurements apart even in one outer query.)
func worstStateQuery(cond string) string {
	alerts := func(severity string, level int) string {
		return fmt.Sprintf(`(SELECT 0 * count("state") + %d AS "level" FROM (SELECT last("state") AS "state" FROM "alert_event" WHERE %s AND %s AND "severity" = %s GROUP BY "alertname", "ward", "class", "device") WHERE "state" = 'firing' OR "state" = 'acknowledged')`,
			level, activeAlertWindow, cond, quoteString(severity))
	}
	offline := fmt.Sprintf(`(SELECT %d * max("down") AS "level" FROM (SELECT 1 - last("up") AS "down" FROM "device_availability" WHERE %s AND %s GROUP BY "ward", "device"))`,
		levelOffline, currentWindow, cond)
	return `SELECT max("level") FROM ` + strings.Join([]string{
		offline, alerts("critical", levelCritical), alerts("warning", levelWarning),
	}, ", ")
}

// worstStateMappings name the levels of worstStateQuery.
func (g *gen) worstStateMappings() []dashboard.ValueMapping {
	return valueMappings(
		mapping{strconv.Itoa(levelOK), g.t("Bình thường", "OK"), green},
		mapping{strconv.Itoa(levelWarning), g.t("Cảnh báo", "Warning"), orange},
		mapping{strconv.Itoa(levelOffline), g.t("Thiết bị mất kết nối", "Device offline"), red},
		mapping{strconv.Itoa(levelCritical), g.t("Sự cố nghiêm trọng", "Critical"), darkRed},
	)
}

// worstState is a stat of worstStateQuery: Grafana's seriesToRows
// transformation turns its series into rows of one Value field, whose max
// is the worst state.
func (g *gen) worstState(title, description, cond string) *stat.PanelBuilder {
	return g.statPanel(title, description, "").
		WithTarget(influx("A", worstStateQuery(cond))).
		Transformations([]dashboard.DataTransformerConfig{{Id: "seriesToRows", Options: map[string]any{}}}).
		ReduceOptions(reduce("max")).
		Mappings(g.worstStateMappings()).
		Thresholds(thresholds(green, step{levelWarning, orange}, step{levelOffline, red}, step{levelCritical, darkRed})).
		NoValue(g.t("Không có dữ liệu", "No data"))
}

// activeAlertsQuery lists the alerts whose last event is firing or
// acknowledged, with the summary in the build's language. cond narrows them
// (empty: every office).
func (g *gen) activeAlertsQuery(cond string) string {
	where := activeAlertWindow
	if cond != "" {
		where += " AND " + cond
	}
	const by = `"alertname", "severity", "ward", "class", "device"`
	return fmt.Sprintf(`SELECT "state", "summary", "value" FROM (SELECT last("state") AS "state", %q AS "summary", "value" FROM "alert_event" WHERE %s GROUP BY %s) WHERE "state" = 'firing' OR "state" = 'acknowledged' GROUP BY %s`,
		g.t("summary_vi", "summary_en"), where, by, by)
}

// column renames a table column and, with mappings, colours its cells.
func column(name, display string, mappings []dashboard.ValueMapping) cog.Builder[dashboard.DashboardFieldConfigSourceOverrides] {
	props := []dashboard.DynamicConfigValue{{Id: "displayName", Value: display}}
	if mappings != nil {
		props = append(props,
			dashboard.DynamicConfigValue{Id: "mappings", Value: mappings},
			dashboard.DynamicConfigValue{Id: "custom.cellOptions", Value: map[string]any{"type": "color-text"}})
	}
	return dashboard.NewDashboardFieldConfigSourceOverridesBuilder().
		Matcher(dashboard.MatcherConfig{Id: "byName", Options: name}).
		Properties(props)
}

// table is a table of one InfluxQL query in the table result format, whose
// tags become columns.
func (g *gen) table(title, description, query, sortBy string, columns ...cog.Builder[dashboard.DashboardFieldConfigSourceOverrides]) *table.PanelBuilder {
	return table.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(influxRef).
		WithTarget(influx("A", query).Table()).
		SortBy([]cog.Builder[common.TableSortByFieldState]{
			common.NewTableSortByFieldStateBuilder().DisplayName(sortBy).Desc(true),
		}).
		CellHeight(common.TableCellHeightSm).
		Filterable(true).
		Overrides(columns).
		Height(tsHeight).
		Span(fullWidth)
}

// activeAlerts is the table of activeAlertsQuery.
func (g *gen) activeAlerts(title, cond string) *table.PanelBuilder {
	since := g.t("Từ lúc", "Since")
	return g.table(title, g.t(
		"Cảnh báo có sự kiện cuối cùng là đang cảnh báo (firing) hoặc đã xác nhận, trong 30 ngày qua; cột thời gian là lúc chuyển sang trạng thái đó.",
		"Alerts whose last event in the past 30 days is firing or acknowledged; the time column is when they entered that state."),
		g.activeAlertsQuery(cond), since,
		column("Time", since, nil),
		column("severity", g.t("Mức độ", "Severity"), valueMappings(
			mapping{"critical", g.t("Nghiêm trọng", "Critical"), darkRed},
			mapping{"warning", g.t("Cảnh báo", "Warning"), orange},
			mapping{"info", g.t("Thông tin", "Info"), blue},
		)),
		column("state", g.t("Trạng thái", "State"), valueMappings(
			mapping{"firing", g.t("Đang cảnh báo", "Firing"), red},
			mapping{"acknowledged", g.t("Đã xác nhận", "Acknowledged"), yellow},
		)),
		column("ward", g.t("Phường", "Ward"), g.wardNameMappings()),
		column("class", g.t("Loại thiết bị", "Device class"), g.classMappings()),
		column("device", g.t("Thiết bị", "Device"), nil),
		column("alertname", g.t("Cảnh báo", "Alert"), nil),
		column("summary", g.t("Mô tả", "Summary"), nil),
		column("value", g.t("Giá trị", "Value"), nil),
	).NoValue(g.t("Không có cảnh báo", "No active alerts"))
}

// classNames are the display names of the device classes.
func (g *gen) className(class string) string {
	switch class {
	case "door":
		return g.t("Cửa tự động", "Automatic doors")
	case "hvac":
		return g.t("Điều hòa", "Air conditioning")
	case "server":
		return g.t("Máy chủ và UPS", "Servers and UPS")
	case "camera":
		return g.t("Camera", "Cameras")
	case "app":
		return g.t("Ứng dụng dịch vụ", "Service apps")
	}
	return class
}

func (g *gen) classMappings() []dashboard.ValueMapping {
	var ms []mapping
	for _, c := range append(Classes(), "app") {
		ms = append(ms, mapping{c, g.className(c), grey})
	}
	return valueMappings(ms...)
}

// upMappings name device_status and device_availability's up field.
func (g *gen) upMappings() []mapping {
	return []mapping{
		{"1", g.t("Trực tuyến", "Online"), green},
		{"0", g.t("Mất kết nối", "Offline"), red},
	}
}
