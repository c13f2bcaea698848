#!/usr/bin/env bash
# setup-mariadb.sh — prepare the machine's MariaDB for acstore in production:
# the database, its user and grants, LOAD DATA LOCAL (local_infile=1), and
# MyISAM settings sized from the machine's memory, written to a config file
# and applied at once where the server allows it. Safe to run again.
# It refuses, saying why, when something is wrong; it never guesses.
set -euo pipefail

usage() {
	cat <<-'USAGE'
	setup-mariadb.sh: prepare a system MariaDB for acstore.

	Usage: setup-mariadb.sh [--database acstore] [--user acstore]
	                        [--password PW | --password-file FILE]
	                        [--socket /run/mysqld/mysqld.sock]
	                        [--conf-file /etc/mysql/mariadb.conf.d/60-acstore.cnf]
	                        [--memory BYTES]

	Connects as MariaDB's root over its unix socket (run it as root), then:
	  - writes --conf-file: local_infile=1, myisam_recover_options=BACKUP,FORCE,
	    key_buffer_size (a quarter of --memory, at most 8G),
	    bulk_insert_buffer_size and myisam_sort_buffer_size (sized from it too),
	    concurrent_insert=ALWAYS; applies what can change at run time;
	  - creates the database and the user (at localhost and 127.0.0.1) with
	    all privileges on that database only;
	  - checks the user can connect and LOAD DATA LOCAL is on;
	  - prints the DSN for the -dsn setting of /etc/acstore/*.yaml.
	--memory is the memory MariaDB may count on (default: all of
	/proc/meminfo's MemTotal); give less when other services share the
	machine. Without --password(-file), a password is generated and kept in
	/etc/acstore/db-password (mode 0640, group acstore).
	USAGE
}

die() { echo "setup-mariadb.sh: refusing: $*" >&2; exit 1; }

db=acstore user=acstore password="" password_file="" sock=/run/mysqld/mysqld.sock
conf=/etc/mysql/mariadb.conf.d/60-acstore.cnf memory=""
while [ $# -gt 0 ]; do
	case "$1" in
	--database) db=${2:?}; shift 2 ;;
	--user) user=${2:?}; shift 2 ;;
	--password) password=${2:?}; shift 2 ;;
	--password-file) password_file=${2:?}; shift 2 ;;
	--socket) sock=${2:?}; shift 2 ;;
	--conf-file) conf=${2:?}; shift 2 ;;
	--memory) memory=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
done

# Names go into SQL: letters, digits and underscores only.
[[ $db =~ ^[A-Za-z0-9_]{1,64}$ ]] || die "database name '$db' (letters, digits, _ only)"
[[ $user =~ ^[A-Za-z0-9_]{1,32}$ ]] || die "user name '$user' (letters, digits, _ only)"

client=$(command -v mariadb || command -v mysql || true)
[ -n "$client" ] || die "no mariadb client on PATH: apt-get install mariadb-client"

# Memory: bytes, or a number with K, M or G.
to_bytes() {
	local v=$1
	case "$v" in
	*[kK]) echo $(( ${v%?} * 1024 )) ;;
	*[mM]) echo $(( ${v%?} * 1024 * 1024 )) ;;
	*[gG]) echo $(( ${v%?} * 1024 * 1024 * 1024 )) ;;
	*) echo "$v" ;;
	esac
}
if [ -z "$memory" ]; then
	kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null || true)
	[ -n "$kb" ] || die "cannot read MemTotal from /proc/meminfo; give --memory"
	memory=$(( kb * 1024 ))
fi
[[ $memory =~ ^[0-9]+[kKmMgG]?$ ]] || die "--memory '$memory' (bytes, or a number with K, M or G)"
mem=$(to_bytes "$memory")
(( mem >= 1024 * 1024 * 1024 )) || die "MariaDB would have $(( mem / 1024 / 1024 )) MiB of memory; acstore needs at least 1 GiB (the key cache alone takes a quarter)"

mib=$(( 1024 * 1024 ))
clamp() { local v=$1 lo=$2 hi=$3; (( v < lo )) && v=$lo; (( v > hi )) && v=$hi; echo $(( v / mib * mib )); }
key_buffer=$(clamp $(( mem / 4 )) $(( 64 * mib )) $(( 8192 * mib )))
bulk_insert=$(clamp $(( mem / 32 )) $(( 16 * mib )) $(( 256 * mib )))
sort_buffer=$(clamp $(( mem / 16 )) $(( 64 * mib )) $(( 512 * mib )))

if [ -z "$password" ] && [ -n "$password_file" ]; then
	[ -r "$password_file" ] || die "cannot read --password-file $password_file"
	password=$(head -n1 "$password_file")
fi
generated=""
if [ -z "$password" ]; then
	password_file=/etc/acstore/db-password
	if [ -r "$password_file" ]; then
		password=$(head -n1 "$password_file")
	else
		password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
		generated=$password_file
	fi
fi
[[ $password =~ ^[A-Za-z0-9_.,:@%^*+=-]{12,}$ ]] || die "the password must be 12 or more letters, digits or _.,:@%^*+=- (no quotes, no spaces)"

[ -S "$sock" ] || die "no MariaDB socket at $sock: is the server running (systemctl start mariadb) or is it elsewhere (--socket)?"
sql() { "$client" --no-defaults --socket="$sock" -uroot --batch --skip-column-names "$@"; }
err=$(sql -e 'SELECT 1' 2>&1 >/dev/null) || die "cannot connect as MariaDB's root over $sock: $err (run as root; root must use unix_socket authentication)"

version=$(sql -e 'SELECT VERSION()')
major=${version%%.*} rest=${version#*.} minor=${rest%%.*}
case "$version" in *MariaDB*) ;; *) die "the server at $sock is '$version', not MariaDB" ;; esac
(( major > 10 || (major == 10 && minor >= 5) )) || die "MariaDB $version is too old: acstore needs 10.5 or newer"
myisam=$(sql -e "SELECT SUPPORT FROM information_schema.ENGINES WHERE ENGINE = 'MyISAM'")
[ "$myisam" = YES ] || [ "$myisam" = DEFAULT ] || die "the MyISAM engine is not available ('$myisam'): acstore's day tables are MyISAM"

confdir=$(dirname "$conf")
[ -d "$confdir" ] || die "no directory $confdir for MariaDB settings (give --conf-file)"

tmp=$(mktemp "$confdir/.60-acstore.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat >"$tmp" <<-CNF
	# acstore: written by setup-mariadb.sh for $(( mem / mib )) MiB of memory; run it again to resize.
	[mariadb]
	# loader streams files with LOAD DATA LOCAL INFILE.
	local_infile = 1
	# A MyISAM table damaged by a crash is repaired when opened (loader then
	# rebuilds it from the sync_files); BACKUP keeps the damaged data file.
	myisam_recover_options = BACKUP,FORCE
	# Index blocks of the day tables: a quarter of memory.
	key_buffer_size = $key_buffer
	# Per-connection buffer for the bulk inserts of LOAD DATA.
	bulk_insert_buffer_size = $bulk_insert
	# REPAIR TABLE and index builds sort here.
	myisam_sort_buffer_size = $sort_buffer
	# Reports read while loader appends.
	concurrent_insert = ALWAYS
CNF
chmod 0644 "$tmp"
mv "$tmp" "$conf"
trap - EXIT

sql <<-SQL
	SET GLOBAL local_infile = 1;
	SET GLOBAL key_buffer_size = $key_buffer;
	SET GLOBAL bulk_insert_buffer_size = $bulk_insert;
	SET GLOBAL myisam_sort_buffer_size = $sort_buffer;
	SET GLOBAL concurrent_insert = ALWAYS;
	CREATE DATABASE IF NOT EXISTS \`$db\`;
	CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$password';
	CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$password';
	ALTER USER '$user'@'localhost' IDENTIFIED BY '$password';
	ALTER USER '$user'@'127.0.0.1' IDENTIFIED BY '$password';
	GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'localhost';
	GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'127.0.0.1';
SQL

if [ -n "$generated" ]; then
	mkdir -p "$(dirname "$generated")"
	(umask 027; printf '%s\n' "$password" >"$generated")
	getent group acstore >/dev/null 2>&1 && chgrp acstore "$generated"
	echo "setup-mariadb.sh: generated the password of '$user' into $generated" >&2
fi

infile=$("$client" --no-defaults --socket="$sock" -u"$user" -p"$password" --batch --skip-column-names "$db" \
	-e 'SELECT @@global.local_infile' 2>&1) || die "the new user '$user' cannot connect: $infile"
[ "$infile" = 1 ] || die "local_infile is still '$infile' after SET GLOBAL: is it forced off in another config file?"

recover=$(sql -e 'SELECT @@global.myisam_recover_options')
if [ "$recover" != "BACKUP,FORCE" ]; then
	echo "setup-mariadb.sh: myisam_recover_options is '$recover' until MariaDB restarts (systemctl restart mariadb); $conf sets BACKUP,FORCE" >&2
fi
echo "setup-mariadb.sh: MariaDB $version ready: database $db, user $user, key_buffer_size $(( key_buffer / mib ))M, bulk_insert_buffer_size $(( bulk_insert / mib ))M, settings in $conf" >&2
echo "$user:$password@unix($sock)/$db"
