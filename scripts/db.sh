#!/usr/bin/env bash
# db.sh up|down|dsn|status — the project's private MariaDB instance.
#
# It has its own data directory, socket and port under ./var/mariadb and
# never touches a system MariaDB. `up` installs the server package when
# mariadbd is missing, starts the instance if it is not running, and prints
# the DSN as its last line.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
var=${ACSTORE_VAR:-$top/var}/mariadb
port=${ACSTORE_DB_PORT:-3407}
datadir=$var/data
sock=$var/mysqld.sock
pidfile=$var/mysqld.pid
errlog=$var/error.log
dsn="acstore:acstore@tcp(127.0.0.1:$port)/acstore"

mariadbd_bin() {
	for b in mariadbd /usr/sbin/mariadbd mysqld /usr/sbin/mysqld; do
		if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return; fi
	done
	return 1
}

install_server() {
	echo "db.sh: mariadbd not found; installing mariadb-server with apt-get" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq mariadb-server mariadb-client >&2
}

running() {
	[ -S "$sock" ] && mariadb-admin --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1
}

up() {
	bin=$(mariadbd_bin) || { install_server; bin=$(mariadbd_bin); }
	if running; then echo "$dsn"; return; fi
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "db.sh: port $port is taken by another process (not this project's instance in $var);" \
			"stop it or choose another port with ACSTORE_DB_PORT=N" >&2
		exit 1
	fi
	mkdir -p "$var" "$var/tmp"
	# ACSTORE_DB_SPIDER=1: a Spider front (scripts/shards.sh); its tables
	# span the shards, and the shards' own timeouts keep a dead one short.
	spider=()
	if [ "${ACSTORE_DB_SPIDER:-}" = 1 ]; then
		spider=(--plugin-load-add=ha_spider --spider-bgs-mode=1 --spider-connect-timeout=2
			--spider-net-read-timeout=30 --spider-net-write-timeout=30)
	fi
	if [ ! -d "$datadir/mysql" ]; then
		echo "db.sh: initialising $datadir" >&2
		# The bootstrap server's temporary tables go to the instance's own
		# tmpdir too: installs running at once (tests start instances in
		# parallel packages) have been seen to delete each other's in /tmp.
		TMPDIR="$var/tmp" mariadb-install-db --no-defaults --datadir="$datadir" --user="$(id -un)" \
			--auth-root-authentication-method=normal --skip-test-db --tmpdir="$var/tmp" >"$var/install.log" 2>&1 ||
			{ cat "$var/install.log" >&2; exit 1; }
	fi
	# myisam-recover-options=OFF: damaged tables must reach loader, which
	# repairs and rebuilds them itself, instead of being patched silently.
	# secure-file-priv is empty so the benchmark can time the server's own
	# LOAD DATA INFILE next to loader's. tmpdir is the instance's own: the
	# internal temp tables of big GROUP BYs must not share /tmp with other
	# instances and whatever cleans it.
	nohup "$bin" --no-defaults --datadir="$datadir" --socket="$sock" --port="$port" \
		--bind-address=127.0.0.1 --pid-file="$pidfile" --log-error="$errlog" \
		--user="$(id -un)" --local-infile=1 --skip-name-resolve --skip-log-bin \
		--myisam-recover-options=OFF --secure-file-priv= --tmpdir="$var/tmp" \
		--key-buffer-size=256M --bulk-insert-buffer-size=64M --max-allowed-packet=64M \
		--innodb-buffer-pool-size=32M --max-connections=500 ${spider[@]+"${spider[@]}"} >/dev/null 2>&1 &
	for _ in $(seq 1 60); do
		if running; then break; fi
		sleep 0.5
	done
	running || { echo "db.sh: mariadbd did not start; see $errlog" >&2; tail -20 "$errlog" >&2; exit 1; }
	mariadb --no-defaults --socket="$sock" -uroot <<-SQL
		CREATE USER IF NOT EXISTS 'acstore'@'127.0.0.1' IDENTIFIED BY 'acstore';
		CREATE USER IF NOT EXISTS 'acstore'@'localhost' IDENTIFIED BY 'acstore';
		GRANT ALL ON *.* TO 'acstore'@'127.0.0.1';
		GRANT ALL ON *.* TO 'acstore'@'localhost';
		CREATE DATABASE IF NOT EXISTS acstore;
	SQL
	echo "db.sh: private MariaDB on 127.0.0.1:$port (socket $sock)" >&2
	echo "$dsn"
}

down() {
	if [ -f "$pidfile" ]; then
		pid=$(cat "$pidfile")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
	fi
	echo "db.sh: stopped" >&2
}

case ${1:-up} in
up) up ;;
down) down ;;
dsn) echo "$dsn" ;;
status) if running; then echo "running: $dsn"; else echo "not running"; exit 1; fi ;;
*) echo "usage: $0 up|down|dsn|status" >&2; exit 2 ;;
esac
