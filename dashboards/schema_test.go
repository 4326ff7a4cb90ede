package dashboards_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/dashboards"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// schemaFixture writes points of every measurement the dashboards read, in
// the shapes facmon's writers document (README "Data in InfluxDB", the alert
// engine's alert_event, the liveness tracker's device_availability, the
// Telegraf-style scraped metrics), for every default ward over the last 15
// minutes. Alerts:
//
//   - thanh-binh: a critical one firing, every device up;
//   - hai-chau-1: camera-1 down at the latest availability sample; a
//     warning alert acknowledged, another one resolved;
//   - nam-duong and binh-hien: a critical server and camera alert firing.
func schemaFixture(now time.Time) string {
	var b strings.Builder
	line := func(t time.Time, format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		fmt.Fprintf(&b, " %d\n", t.UnixNano())
	}
	start := now.Add(-15 * time.Minute)
	for _, o := range config.DefaultOffices() {
		w := o.ID
		for i := 0; i < 90; i++ {
			t := start.Add(time.Duration(i) * 10 * time.Second)
			state := []string{"open", "closed"}[i%2]
			line(t, `door,ward=%s,class=door,device=door-1 state=%q,cycles=%di,motor_current_a=1.4,obstruction=false,fault=0i,seq=%di`, w, state, 1000+i, i)
			line(t, `hvac,ward=%s,class=hvac,device=hvac-1 temp_c=27.5,setpoint_c=25,humidity_pct=63,power_w=1650,running=true,fault=""`, w)
			line(t, `server,ward=%s,class=server,device=server-1 cpu_pct=12,mem_pct=48,disk_pct=71,temp_c=51,ups_on_battery=false,ups_charge_pct=100`, w)
			line(t, `camera,ward=%s,class=camera,device=camera-1 recording=true,fps=25,bitrate_kbps=2048,storage_pct=64`, w)
			line(t, `scrape,ward=%s,class=app,device=onestop up=1i,duration_seconds=0.012,samples=42i`, w)
			line(t, `onestop_tickets_issued_total,ward=%s,class=app,device=onestop counter=%d`, w, 3*i)
			line(t, `onestop_dossiers_received_total,ward=%s,class=app,device=onestop counter=%d`, w, 2*i)
			line(t, `onestop_dossiers_processed_total,ward=%s,class=app,device=onestop counter=%d`, w, i)
			line(t, `onestop_queue_length,ward=%s,class=app,device=onestop gauge=%d`, w, i%7)
			line(t, `onestop_dossiers_overdue,ward=%s,class=app,device=onestop gauge=2`, w)
			line(t, `onestop_wait_seconds,ward=%s,class=app,device=onestop sum=%d,count=%d,0.5=%d,+Inf=%d`, w, 300*i, 3*i, i, 3*i)
		}
		for m := 0; m < 15; m++ {
			t := start.Add(time.Duration(m) * time.Minute)
			for _, dev := range []string{"door/door-1", "hvac/hvac-1", "server/server-1", "camera/camera-1"} {
				class, device, _ := strings.Cut(dev, "/")
				up := 1
				if w == "hai-chau-1" && device == "camera-1" && m == 14 {
					up = 0
				}
				line(t, `device_availability,ward=%s,class=%s,device=%s up=%di`, w, class, device, up)
			}
		}
		line(start, `device_status,ward=%s,class=door,device=door-1 up=1i`, w)
	}
	alert := func(t time.Time, name, severity, ward, class, device, state string) {
		line(t, `alert_event,alertname=%s,severity=%s,ward=%s,class=%s,device=%s state=%q,id="%s-%s",summary_vi="Cảnh báo %s",summary_en="Alert %s",value=1`,
			name, severity, ward, class, device, state, name, device, name, name)
	}
	alert(now.Add(-10*time.Minute), "ACFault", "critical", "thanh-binh", "hvac", "hvac-1", "firing")
	alert(now.Add(-9*time.Minute), "DoorObstruction", "warning", "hai-chau-1", "door", "door-1", "firing")
	alert(now.Add(-8*time.Minute), "DoorObstruction", "warning", "hai-chau-1", "door", "door-1", "acknowledged")
	alert(now.Add(-7*time.Minute), "CameraLowFPS", "warning", "hai-chau-1", "camera", "camera-1", "firing")
	alert(now.Add(-6*time.Minute), "CameraLowFPS", "warning", "hai-chau-1", "camera", "camera-1", "resolved")
	alert(now.Add(-5*time.Minute), "UPSOnBattery", "critical", "nam-duong", "server", "server-1", "firing")
	alert(now.Add(-5*time.Minute), "CameraNotRecording", "critical", "binh-hien", "camera", "camera-1", "firing")
	return b.String()
}

// TestQueriesOnSchemaFixture runs every InfluxQL query of every dashboard
// (both languages) against a real InfluxDB holding the documented schema: no
// error and at least one series each, whatever facmon's writers are wired
// yet; and the computed states are the right ones.
func TestQueriesOnSchemaFixture(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	db.Exec(t, `CREATE DATABASE "fixture"`)
	db.Write(t, "fixture", schemaFixture(time.Now()))

	for _, lang := range []dashboards.Lang{dashboards.Vietnamese, dashboards.English} {
		boards, err := dashboards.All(dashboards.Options{Lang: lang})
		require.NoError(t, err)
		n := 0
		for _, q := range queriesOf(t, boards) {
			if q.datasource != dashboards.InfluxDBType {
				continue
			}
			n++
			series, err := db.QueryErr(t.Context(), "fixture", substitute(q.query, "thanh-binh"))
			if !assert.NoError(t, err, "%s: %s", q, q.query) {
				continue
			}
			assert.NotEmpty(t, series, "%s returned no series: %s", q, substitute(q.query, "thanh-binh"))
		}
		assert.Greater(t, n, 80, "InfluxQL queries checked")
	}

	// The worst state: the max over the series of the query, as Grafana's
	// seriesToRows + max reducer computes it.
	worst := func(ward string) float64 {
		boards, err := dashboards.All(dashboards.Options{})
		require.NoError(t, err)
		for _, q := range queriesOf(t, boards) {
			if q.dashboard == dashboards.OverviewUID && strings.Contains(q.query, `"ward" = '`+ward+`'`) && strings.Contains(q.query, `max("level")`) {
				best := -1.0
				for _, s := range db.Query(t, "fixture", q.query) {
					for row := range s.Values {
						v, ok := influxdb.AsFloat64(s.Value(row, "max"))
						require.True(t, ok, "%v", s)
						best = max(best, v)
					}
				}
				return best
			}
		}
		t.Fatalf("no tile for %s", ward)
		return 0
	}
	assert.Equal(t, 3.0, worst("thanh-binh"), "a critical alert fires")
	assert.Equal(t, 2.0, worst("hai-chau-1"), "camera-1 is down, a warning is acknowledged")

	// Active alerts: the firing and the acknowledged one, not the resolved.
	boards, err := dashboards.All(dashboards.Options{Lang: dashboards.English})
	require.NoError(t, err)
	for _, q := range queriesOf(t, boards) {
		if q.dashboard != dashboards.OverviewUID || !strings.Contains(q.query, `"summary_en" AS "summary"`) {
			continue
		}
		var got []string
		for _, s := range db.Query(t, "fixture", q.query) {
			for row := range s.Values {
				got = append(got, fmt.Sprintf("%s %s %s %v", s.Tags["alertname"], s.Tags["device"], s.Value(row, "state"), s.Value(row, "summary")))
			}
		}
		assert.ElementsMatch(t, []string{
			"ACFault hvac-1 firing Alert ACFault",
			"DoorObstruction door-1 acknowledged Alert DoorObstruction",
			"UPSOnBattery server-1 firing Alert UPSOnBattery",
			"CameraNotRecording camera-1 firing Alert CameraNotRecording",
		}, got)
	}
}

// TestOtherOffices: the office list is an input, so a configuration with
// other offices gets tiles and names of its own.
func TestOtherOffices(t *testing.T) {
	offices := []config.Office{{ID: "an-hai-bac", Name: "An Hải Bắc"}, {ID: "phuoc-my", Name: "Phước Mỹ"}}
	boards, err := dashboards.All(dashboards.Options{Offices: offices})
	require.NoError(t, err)
	overview, err := boards[0].JSON()
	require.NoError(t, err)
	require.Equal(t, dashboards.OverviewUID, boards[0].UID)
	for _, o := range offices {
		for _, want := range []string{`"title": "` + o.Name + `"`, `\"ward\" = '` + o.ID + `'`, `"renamePattern": "` + o.Name + `$1"`} {
			assert.True(t, strings.Contains(string(overview), want), "overview has %s", want)
		}
	}
	assert.False(t, strings.Contains(string(overview), "thanh-binh"), "no default office")

	_, err = dashboards.All(dashboards.Options{Offices: []config.Office{{ID: "a'b"}}})
	assert.Error(t, err, "an id that would break out of a query string")
	_, err = dashboards.All(dashboards.Options{Offices: []config.Office{{ID: "a"}, {ID: "a"}}})
	assert.Error(t, err, "an office listed twice")
	_, err = dashboards.All(dashboards.Options{Lang: "fr"})
	assert.Error(t, err)
}
