#!/usr/bin/env bash
# Runs `facmon run --demo` in the foreground. When nothing answers at
# 127.0.0.1:8086 it first starts InfluxDB 1.8.3 with its data under ./var
# (kept for next time) and stops it again on exit.
#
#   scripts/run-demo.sh BIN [facmon run flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: scripts/run-demo.sh BIN [flags]}
shift

influx_url=http://127.0.0.1:8086
influx_pid=""
cleanup() {
	if [ -n "$influx_pid" ]; then
		kill "$influx_pid" 2>/dev/null || true
		wait "$influx_pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT

if curl -fsS -o /dev/null "$influx_url/ping" 2>/dev/null; then
	echo "run-demo: using the InfluxDB already answering at $influx_url"
else
	influxd=$(scripts/deps.sh --print-influxd)
	mkdir -p var/influxdb
	conf=var/influxdb/influxdb.conf
	cat >"$conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:8088"
[meta]
  dir = "$PWD/var/influxdb/meta"
[data]
  dir = "$PWD/var/influxdb/data"
  wal-dir = "$PWD/var/influxdb/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:8086"
  flux-enabled = true
  log-enabled = false
[monitor]
  store-enabled = false
[logging]
  level = "warn"
CONF
	echo "run-demo: starting InfluxDB 1.8.3 at $influx_url (data in var/influxdb, log in var/influxdb/influxd.log)"
	# setsid: Ctrl-C reaches facmon, which then flushes to a still-running InfluxDB.
	setsid "$influxd" -config "$conf" >var/influxdb/influxd.log 2>&1 &
	influx_pid=$!
	for _ in $(seq 1 150); do
		if curl -fsS -o /dev/null "$influx_url/ping" 2>/dev/null; then break; fi
		if ! kill -0 "$influx_pid" 2>/dev/null; then
			echo "run-demo: influxd exited; last lines of var/influxdb/influxd.log:" >&2
			tail -20 var/influxdb/influxd.log >&2
			exit 1
		fi
		sleep 0.2
	done
	curl -fsS -o /dev/null "$influx_url/ping" || { echo "run-demo: InfluxDB did not answer in 30 s" >&2; exit 1; }
fi

mkdir -p var
"$bin" run --demo --log-format text --spool-dir var/spool "$@" &
facmon_pid=$!
trap 'kill -INT $facmon_pid 2>/dev/null || true' INT TERM
wait "$facmon_pid" || true
wait "$facmon_pid" 2>/dev/null || true
