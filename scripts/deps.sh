#!/usr/bin/env bash
# Installs the real services facmon's tests and `make run` use, only when missing.
#
#   scripts/deps.sh [mosquitto|influxd|alertmanager|node-exporter|chromium|deploy-tools|all]...
#   scripts/deps.sh --print-influxd     # path of the influxd 1.8.3 binary (for the Makefile)
#
# Idempotent and fast (well under a second) when everything is already installed:
# nothing touches the network unless a component is missing.
set -euo pipefail

INFLUXD_VERSION=v1.8.3
INFLUXD_PKG=github.com/influxdata/influxdb/cmd/influxd

die() { echo "deps.sh: $*" >&2; exit 1; }
log() { echo "deps.sh: $*" >&2; }

usage() {
	sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-2}"
}

# ---------------------------------------------------------------- privileges
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	fi
fi
as_root() {
	if [ "$(id -u)" -ne 0 ] && [ ${#SUDO[@]} -eq 0 ]; then
		die "need root (or sudo) to run: $*"
	fi
	"${SUDO[@]}" "$@"
}

# ---------------------------------------------------------------- apt
APT_UPDATED=0
apt_install() {
	# DPkg::Lock::Timeout: several engineers may run this script at once; wait for
	# the dpkg lock instead of failing.
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -o DPkg::Lock::Timeout=300)
	log "apt-get install $*"
	if as_root "${apt[@]}" install "$@"; then
		return 0
	fi
	# The package lists may be stale or absent (fresh containers ship without them):
	# update once, then retry.
	if [ "$APT_UPDATED" -eq 0 ]; then
		log "apt-get install failed; running apt-get update once and retrying"
		as_root "${apt[@]}" update
		APT_UPDATED=1
		as_root "${apt[@]}" install "$@"
		return
	fi
	return 1
}

deb_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }

# Debian's packages start their system service on install (mosquitto on 1883,
# alertmanager on 9093, node-exporter on 9100). The demo and the tests need those
# ports, and the test harness starts its own instances, so the system services are
# stopped and disabled. Containers usually have no running systemd: tolerate that.
disable_service() {
	local svc=$1
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		if systemctl is-active --quiet "$svc" 2>/dev/null || systemctl is-enabled --quiet "$svc" 2>/dev/null; then
			log "stopping and disabling system service $svc"
			as_root systemctl disable --now "$svc" >/dev/null 2>&1 || log "could not disable $svc (ignored)"
		fi
		return 0
	fi
	# No systemd: a SysV init script may still have started the daemon
	# (invoke-rc.d in the postinst). `service status` reads its pid file: cheap.
	if [ -x "/etc/init.d/$svc" ] && command -v service >/dev/null 2>&1; then
		if service "$svc" status >/dev/null 2>&1; then
			log "stopping system service $svc"
			as_root service "$svc" stop >/dev/null 2>&1 || log "could not stop $svc (ignored)"
		fi
		if command -v update-rc.d >/dev/null 2>&1 && ls /etc/rc[2-5].d/S*"$svc" >/dev/null 2>&1; then
			as_root update-rc.d "$svc" disable >/dev/null 2>&1 || true
		fi
	fi
	return 0
}

# ---------------------------------------------------------------- go / influxd
GO_BIN_DIR=""
go_bin_dir() {
	if [ -z "$GO_BIN_DIR" ]; then
		command -v go >/dev/null 2>&1 || die "go not found on PATH (needed for influxd)"
		local gobin gopath
		# One `go env` call prints both values, one per line.
		{ read -r gobin; read -r gopath; } < <(go env GOBIN GOPATH)
		if [ -n "$gobin" ]; then
			GO_BIN_DIR=$gobin
		else
			GO_BIN_DIR="${gopath%%:*}/bin" # go install uses the first GOPATH entry
		fi
	fi
	echo "$GO_BIN_DIR"
}

# A go-installed influxd prints "InfluxDB vunknown (git: unknown unknown)": the
# version is known only from the module information embedded in the binary.
is_influxd_183() {
	[ -x "$1" ] || return 1
	go version -m "$1" 2>/dev/null |
		awk -v v="$INFLUXD_VERSION" '$1=="mod" && $2=="github.com/influxdata/influxdb" && $3==v {f=1} END {exit !f}'
}

# Prints the path of an installed influxd 1.8.3 (PATH first, then the Go bin dir)
# and succeeds, or prints the Go bin dir path where it would be installed and fails.
find_influxd() {
	local p
	p=$(command -v influxd 2>/dev/null || true)
	if [ -n "$p" ] && is_influxd_183 "$p"; then
		echo "$p"
		return 0
	fi
	p="$(go_bin_dir)/influxd"
	echo "$p"
	is_influxd_183 "$p"
}

install_influxd() {
	if find_influxd >/dev/null; then
		return 0
	fi
	# Building influxd takes minutes. Serialise concurrent runs of this script, and
	# wait for a go install of it that someone else already started instead of
	# building a second copy next to it.
	local lock="/tmp/facmon-deps-influxd.$(id -u).lock" # per user: a root-owned lock would block others
	exec 9>"$lock"
	if command -v flock >/dev/null 2>&1; then
		flock 9
	fi
	while pgrep -f "go install ${INFLUXD_PKG}" >/dev/null 2>&1; do
		log "a 'go install ${INFLUXD_PKG}' is already running; waiting for it"
		sleep 5
	done
	if ! find_influxd >/dev/null; then
		log "building influxd ${INFLUXD_VERSION} with go install (takes a few minutes)"
		# CGO is not needed: influxd 1.8 is pure Go.
		CGO_ENABLED=0 go install "${INFLUXD_PKG}@${INFLUXD_VERSION}"
	fi
	exec 9>&-
	find_influxd >/dev/null || die "influxd ${INFLUXD_VERSION} still not found after go install"
}

# ---------------------------------------------------------------- components
install_mosquitto() {
	if ! command -v mosquitto >/dev/null 2>&1 || ! command -v mosquitto_pub >/dev/null 2>&1 ||
		! command -v mosquitto_passwd >/dev/null 2>&1; then
		apt_install mosquitto mosquitto-clients
	fi
	# The demo's banner and scripts/run-demo.sh talk to InfluxDB with curl.
	command -v curl >/dev/null 2>&1 || apt_install curl
	disable_service mosquitto
}

install_alertmanager() {
	if ! command -v prometheus-alertmanager >/dev/null 2>&1 || ! command -v amtool >/dev/null 2>&1; then
		apt_install prometheus-alertmanager
	fi
	disable_service prometheus-alertmanager
}

install_node_exporter() {
	if ! command -v prometheus-node-exporter >/dev/null 2>&1; then
		apt_install prometheus-node-exporter
	fi
	disable_service prometheus-node-exporter
}

# The deploy files' tests: systemd-analyze verifies the unit, openssl makes
# the broker's certificates.
install_deploy_tools() {
	local pkgs=()
	command -v systemd-analyze >/dev/null 2>&1 || pkgs+=(systemd)
	command -v openssl >/dev/null 2>&1 || pkgs+=(openssl)
	if [ ${#pkgs[@]} -gt 0 ]; then
		apt_install "${pkgs[@]}"
	fi
}

install_chromium() {
	if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
		apt_install chromium chromium-driver
	fi
}

# ---------------------------------------------------------------- report
report_line() { printf '%-14s %-40s %s\n' "$1" "$2" "$3"; }

report() {
	case $1 in
	mosquitto)
		report_line mosquitto "$(command -v mosquitto)" "$(deb_version mosquitto) (clients: $(command -v mosquitto_pub))"
		;;
	influxd)
		report_line influxd "$(find_influxd)" "${INFLUXD_VERSION} (go install; 'influxd version' prints vunknown)"
		;;
	alertmanager)
		report_line alertmanager "$(command -v prometheus-alertmanager)" "$(deb_version prometheus-alertmanager) (amtool: $(command -v amtool))"
		;;
	node-exporter)
		report_line node-exporter "$(command -v prometheus-node-exporter)" "$(deb_version prometheus-node-exporter)"
		;;
	chromium)
		report_line chromium "$(command -v chromium)" "$(deb_version chromium) (driver: $(command -v chromedriver))"
		;;
	deploy-tools)
		report_line systemd-analyze "$(command -v systemd-analyze)" "$(deb_version systemd)"
		report_line openssl "$(command -v openssl)" "$(deb_version openssl)"
		;;
	esac
}

# ---------------------------------------------------------------- main
ALL=(mosquitto influxd alertmanager node-exporter chromium deploy-tools)

main() {
	[ $# -gt 0 ] || usage 2
	local want=() c
	for c in "$@"; do
		case $c in
		--print-influxd)
			[ $# -eq 1 ] || die "--print-influxd takes no other arguments"
			if ! find_influxd; then
				log "influxd ${INFLUXD_VERSION} not installed: run scripts/deps.sh influxd"
				exit 1
			fi
			exit 0
			;;
		-h | --help) usage 0 ;;
		all) want+=("${ALL[@]}") ;;
		mosquitto | influxd | alertmanager | node-exporter | chromium | deploy-tools) want+=("$c") ;;
		*) log "unknown component: $c"; usage 2 ;;
		esac
	done

	# De-duplicate while keeping the order.
	local seen=" " todo=()
	for c in "${want[@]}"; do
		case $seen in *" $c "*) continue ;; esac
		seen+="$c "
		todo+=("$c")
	done

	for c in "${todo[@]}"; do
		case $c in
		mosquitto) install_mosquitto ;;
		influxd) install_influxd ;;
		alertmanager) install_alertmanager ;;
		node-exporter) install_node_exporter ;;
		chromium) install_chromium ;;
		deploy-tools) install_deploy_tools ;;
		esac
	done
	for c in "${todo[@]}"; do
		report "$c"
	done
}

main "$@"
