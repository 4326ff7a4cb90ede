package dashboards

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/facmon/facmon/internal/testenv"
)

func TestScratch(t *testing.T) {
	db := testenv.StartInfluxDB(t, testenv.WithoutFlux())
	db.Exec(t, "CREATE DATABASE s")
	now := time.Now().UnixNano()
	var b strings.Builder
	for i := 0; i < 30; i++ {
		ts := now - int64(30-i)*int64(time.Second)
		fmt.Fprintf(&b, "device_availability,ward=a,class=door,device=d1 up=1i %d\n", ts)
		fmt.Fprintf(&b, "device_availability,ward=a,class=door,device=d2 up=%di %d\n", i%2, ts)
		fmt.Fprintf(&b, "device_availability,ward=b,class=door,device=d1 up=1i %d\n", ts)
		fmt.Fprintf(&b, "door,ward=a,class=door,device=d1 state=\"open\",cycles=%di,obstruction=false %d\n", i*3, ts)
		fmt.Fprintf(&b, "onestop_wait_seconds,ward=a,class=app,device=onestop sum=%d,count=%d %d\n", i*10, i*2, ts)
	}
	fmt.Fprintf(&b, "alert_event,alertname=x,severity=critical,ward=a,class=door,device=d1 state=\"firing\",id=\"1\",summary_vi=\"cửa\",value=1 %d\n", now-5e9)
	fmt.Fprintf(&b, "alert_event,alertname=y,severity=warning,ward=a,class=door,device=d2 state=\"firing\",id=\"2\",summary_vi=\"cửa\",value=1 %d\n", now-6e9)
	fmt.Fprintf(&b, "alert_event,alertname=y,severity=warning,ward=a,class=door,device=d2 state=\"resolved\",id=\"2\",summary_vi=\"cửa\",value=1 %d\n", now-4e9)
	fmt.Fprintf(&b, "alert_event,alertname=z,severity=warning,ward=b,class=door,device=d1 state=\"acknowledged\",id=\"3\",summary_vi=\"cửa\",value=1 %d\n", now-4e9)
	db.Write(t, "s", b.String())
	qs := []string{
		`SHOW TAG VALUES WITH KEY = "ward"`,
		`SELECT max("s") FROM (SELECT 2 * (1 - last("up")) AS "s" FROM "device_availability" WHERE time > now() - 5m AND "ward" = 'a' GROUP BY "device"), (SELECT 1 AS s FROM alert_event)`,
		`SELECT max("s") FROM (SELECT 2 * (1 - last("up")) AS "s" FROM "device_availability" WHERE time > now() - 5m AND "ward" = 'a' GROUP BY "device"), (SELECT count("st") * 3 AS "s" FROM (SELECT last("state") AS "st" FROM "alert_event" WHERE time > now() - 30d AND "ward" = 'a' AND "severity" = 'critical' GROUP BY "alertname", "device") WHERE "st" = 'firing' OR "st" = 'acknowledged')`,
		`SELECT "st", "summary_vi" FROM (SELECT last("state") AS "st", "summary_vi" FROM "alert_event" WHERE time > now() - 30d GROUP BY *) WHERE "st" = 'firing' OR "st" = 'acknowledged' GROUP BY "ward", "device", "alertname", "severity"`,
		`SELECT non_negative_difference(last("sum")) / non_negative_difference(last("count")) FROM "onestop_wait_seconds" WHERE time > now() - 1h GROUP BY time(10s), "ward"`,
		`SELECT last("state") FROM "door" WHERE time > now() - 1h GROUP BY time(10s), "device" fill(previous)`,
		`SELECT last("obstruction") FROM "door" WHERE time > now() - 1m GROUP BY time(10s), "device" fill(previous)`,
		`SELECT count("state") * 1000 / 10000 FROM "door" WHERE time > now() - 1m GROUP BY time(10s)`,
		`SELECT mean("up") * 100 FROM "device_availability" WHERE time > now() - 1h GROUP BY "ward"`,
	}
	for _, q := range qs {
		s, err := db.QueryErr(t.Context(), "s", q)
		t.Logf("%s\n  err=%v", q, err)
		for _, x := range s {
			t.Logf("  %+v", x)
		}
	}
}
