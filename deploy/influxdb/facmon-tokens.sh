#!/bin/bash
# Runs once, after InfluxDB's first setup (the influxdb:2 image runs
# /docker-entrypoint-initdb.d/*.sh with the admin token in the
# environment): a write-only token for facmon's writes, a read-only one for
# its queries and Grafana, kept in the influx-tokens volume, and the DBRP
# mapping that lets InfluxQL (the dashboards, the reports) read the bucket
# as database "facmon".
set -euo pipefail
out=/var/lib/facmon-tokens
org=${DOCKER_INFLUXDB_INIT_ORG}
bucket=${DOCKER_INFLUXDB_INIT_BUCKET}
bucket_id=$(influx bucket list --org "$org" --name "$bucket" --hide-headers | awk '{print $1}')
influx v1 dbrp create --org "$org" --db facmon --rp autogen --bucket-id "$bucket_id" --default
token() { # description, permission flags...
	local desc=$1
	shift
	influx auth create --org "$org" --description "$desc" "$@" --hide-headers | awk '{print $3}'
}
token facmon-writer --write-bucket "$bucket_id" >"$out/facmon-write"
token facmon-reader --read-bucket "$bucket_id" >"$out/facmon-read"
# Grafana and facmon run as other users than InfluxDB, and only they mount
# the volume: let them read.
chmod 0644 "$out/facmon-write" "$out/facmon-read"
