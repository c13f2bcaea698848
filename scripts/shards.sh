#!/usr/bin/env bash
# shards.sh up|down|map [N] — N private MariaDB shards and a Spider front.
#
# Head office past one server (see docs/scale.md): shard i listens on
# port BASE+i, the front (with the Spider engine) on BASE+N, each with its
# own data dir under ./var/shards (ACSTORE_VAR to move it). BASE is
# ACSTORE_SHARD_PORT (3430). `up` starts what is not running, writes the
# shard map ./var/shards/shards.yaml (gateway ranges split evenly over the
# id space, in force from 20000101) and prints its path last.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
var=${ACSTORE_VAR:-$top/var}/shards
base=${ACSTORE_SHARD_PORT:-3430}
n=${2:-${SHARDS:-3}}
db=$top/scripts/db.sh

[[ $n =~ ^[1-9]$ ]] || { echo "shards.sh: N must be 1 to 9, not $n" >&2; exit 2; }

dsn() { echo "acstore:acstore@tcp(127.0.0.1:$1)/acstore"; }

writemap() {
	local f=$var/shards.yaml
	{
		echo "# written by scripts/shards.sh: $n shards and a Spider front"
		echo "default: s0"
		echo "front: \"$(dsn $((base + n)))\""
		echo "shards:"
		for i in $(seq 0 $((n - 1))); do echo "  s$i: \"$(dsn $((base + i)))\""; done
		echo "versions:"
		echo "  - from: \"20000101\""
		echo "    ranges:"
		for i in $(seq 0 $((n - 1))); do
			if [ "$i" -lt $((n - 1)) ]; then
				printf '      - {shard: s%d, below: "%08X"}\n' "$i" $(((i + 1) * 0x100000000 / n))
			else
				printf '      - {shard: s%d}\n' "$i"
			fi
		done
	} >"$f"
	echo "$f"
}

case ${1:-up} in
up)
	mkdir -p "$var"
	for i in $(seq 0 $((n - 1))); do
		ACSTORE_VAR=$var/s$i ACSTORE_DB_PORT=$((base + i)) "$db" up >/dev/null
	done
	ACSTORE_VAR=$var/front ACSTORE_DB_PORT=$((base + n)) ACSTORE_DB_SPIDER=1 "$db" up >/dev/null
	echo "shards.sh: $n shards on ports $base-$((base + n - 1)), Spider front on $((base + n))" >&2
	writemap
	;;
down)
	for d in "$var"/s* "$var"/front; do
		[ -d "$d/mariadb" ] && ACSTORE_VAR=$d "$db" down 2>/dev/null
	done
	echo "shards.sh: stopped" >&2
	;;
map) writemap ;;
*) echo "usage: $0 up|down|map [N]" >&2; exit 2 ;;
esac
