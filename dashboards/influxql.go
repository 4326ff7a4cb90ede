package dashboards

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
)

// InfluxQLQuery is the target of a panel on Grafana's InfluxDB datasource in
// InfluxQL mode, written as raw text (rawQuery): the query Grafana sends, after
// replacing $__timeFilter, $__interval, $__interval_ms and the dashboard's
// variables. The foundation SDK has no InfluxDB query type; this one carries
// the fields Grafana's InfluxDB query editor reads for a raw query.
type InfluxQLQuery struct {
	RefID      string                `json:"refId"`
	Datasource *common.DataSourceRef `json:"datasource,omitempty"`
	// Query is the raw InfluxQL statement.
	Query    string `json:"query"`
	RawQuery bool   `json:"rawQuery"`
	// ResultFormat is time_series (one frame per series) or table (tags as
	// columns).
	ResultFormat string `json:"resultFormat"`
	// Alias names the series: $tag_<key>, $col, $m are replaced by Grafana.
	Alias string `json:"alias,omitempty"`
	Hide  bool   `json:"hide,omitempty"`
}

// The result formats Grafana's InfluxDB datasource knows.
const (
	FormatTimeSeries = "time_series"
	FormatTable      = "table"
)

// InfluxDBType is the plugin id of Grafana's InfluxDB datasource.
const InfluxDBType = "influxdb"

// ImplementsDataqueryVariant marks InfluxQLQuery as a panel target for the SDK.
func (InfluxQLQuery) ImplementsDataqueryVariant() {}

// DataqueryType is the datasource plugin id.
func (InfluxQLQuery) DataqueryType() string { return InfluxDBType }

// Validate refuses a target Grafana could not run.
func (q InfluxQLQuery) Validate() error {
	var errs []error
	if q.RefID == "" {
		errs = append(errs, errors.New("influxql query: refId is empty"))
	}
	if strings.TrimSpace(q.Query) == "" {
		errs = append(errs, errors.New("influxql query "+q.RefID+": query is empty"))
	}
	if q.ResultFormat != FormatTimeSeries && q.ResultFormat != FormatTable {
		errs = append(errs, errors.New("influxql query "+q.RefID+": resultFormat must be time_series or table"))
	}
	return errors.Join(errs...)
}

// Equals compares two targets field by field.
func (q InfluxQLQuery) Equals(other variants.Dataquery) bool {
	o, ok := other.(InfluxQLQuery)
	if !ok {
		return false
	}
	same := q.Datasource == nil && o.Datasource == nil
	if q.Datasource != nil && o.Datasource != nil {
		same = deref(q.Datasource.Uid) == deref(o.Datasource.Uid) && deref(q.Datasource.Type) == deref(o.Datasource.Type)
	}
	return same && q.RefID == o.RefID && q.Query == o.Query && q.RawQuery == o.RawQuery &&
		q.ResultFormat == o.ResultFormat && q.Alias == o.Alias && q.Hide == o.Hide
}

// InfluxQLVariantConfig lets the SDK's runtime unmarshal InfluxDB targets of a
// dashboard back into InfluxQLQuery:
// cog.NewRuntime().RegisterDataqueryVariant(dashboards.InfluxQLVariantConfig()).
func InfluxQLVariantConfig() variants.DataqueryConfig {
	unmarshal := func(raw []byte) (variants.Dataquery, error) {
		var q InfluxQLQuery
		if err := json.Unmarshal(raw, &q); err != nil {
			return nil, err
		}
		return q, nil
	}
	return variants.DataqueryConfig{
		Identifier:                 InfluxDBType,
		DataqueryUnmarshaler:       unmarshal,
		StrictDataqueryUnmarshaler: unmarshal,
	}
}

var _ cog.Builder[variants.Dataquery] = (*InfluxQLBuilder)(nil)

// InfluxQLBuilder builds an InfluxQLQuery the way the SDK's builders do.
type InfluxQLBuilder struct{ q InfluxQLQuery }

// NewInfluxQL starts a raw InfluxQL time-series target on datasource uid.
func NewInfluxQL(datasourceUID, query string) *InfluxQLBuilder {
	return &InfluxQLBuilder{q: InfluxQLQuery{
		Datasource:   &common.DataSourceRef{Type: ptr(InfluxDBType), Uid: ptr(datasourceUID)},
		Query:        query,
		RawQuery:     true,
		ResultFormat: FormatTimeSeries,
	}}
}

// RefID sets the target's id within its panel (A, B, …).
func (b *InfluxQLBuilder) RefID(id string) *InfluxQLBuilder { b.q.RefID = id; return b }

// Alias sets the series name pattern.
func (b *InfluxQLBuilder) Alias(alias string) *InfluxQLBuilder { b.q.Alias = alias; return b }

// Table asks for the table result format.
func (b *InfluxQLBuilder) Table() *InfluxQLBuilder { b.q.ResultFormat = FormatTable; return b }

// Build returns the target. RefID defaults to A.
func (b *InfluxQLBuilder) Build() (variants.Dataquery, error) {
	q := b.q
	if q.RefID == "" {
		q.RefID = "A"
	}
	if err := q.Validate(); err != nil {
		return nil, cog.MakeBuildErrors("influxql", err)
	}
	return q, nil
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
