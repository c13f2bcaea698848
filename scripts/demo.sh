#!/usr/bin/env bash
# demo.sh — the whole local pipeline on a bundled capture: aclog parses it
# into sync_files and load_files, loader loads them into the private
# MariaDB, and the result is printed. `make demo` builds and starts the
# database first.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
pcap=aclog/testdata/pcaps/mixed/tls-subjectaltname_input.pcap  # see aclog/testdata/pcaps/README.md
data=var/demo
port=${ACSTORE_DB_PORT:-3407}
db=acstore_demo
dsn="acstore:acstore@tcp(127.0.0.1:$port)/$db"
sql() { mariadb --no-defaults -h127.0.0.1 -P"$port" -uacstore -pacstore "$db" "$@"; }

rm -rf "$data"
mkdir -p "$data"
cp -r testdata/demo/config "$data/config"
mariadb --no-defaults -h127.0.0.1 -P"$port" -uacstore -pacstore -e "DROP DATABASE IF EXISTS $db"

echo "== aclog: $pcap (a 95 s Windows browsing capture, see aclog/testdata/pcaps/README.md)"
bin/aclog -data "$data" -gateway 5F86F7A5 -r "$pcap" -log-level warn
echo "sync_files:"
find "$data/sync" -name '*.dat' | sort | sed 's|^|  |'
echo "load_files waiting: $(find "$data/load" -maxdepth 1 -name '*.load' | wc -l)"

echo
echo "== loader -once"
bin/loader -data "$data" -dsn "$dsn" -once -log-level warn
echo "load_files left: $(find "$data/load" -maxdepth 1 -name '*.load' | wc -l)"

echo
echo "== rows per day table"
sql -t -e "SELECT TABLE_NAME AS day_table, TABLE_ROWS AS \`rows\`, ENGINE AS engine
           FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME"
day=$(sql -N -e "SELECT SUBSTRING(MIN(TABLE_NAME), 2) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
echo "== U$day: HTTP requests (first 5)"
sql -t -e "SELECT ts, user, method, host, LEFT(uri, 40) AS uri, status, resp_body_bytes FROM U$day ORDER BY ts LIMIT 5"
echo "== Q$day: DNS queries (first 5)"
sql -t -e "SELECT ts, user, query, qtype, rcode, LEFT(answers, 50) AS answers FROM Q$day ORDER BY ts LIMIT 5"
echo "== S$day: TLS handshakes (first 5)"
sql -t -e "SELECT ts, sni, version, LEFT(cipher, 40) AS cipher, app FROM S$day ORDER BY ts LIMIT 5"
echo "== A$day: top sessions by bytes"
sql -t -e "SELECT user, grp, dst_ip, dst_port, app, bytes_up, bytes_down, end_reason FROM A$day ORDER BY bytes_up + bytes_down DESC LIMIT 5"
echo "== F$day: traffic per app"
sql -t -e "SELECT app, SUM(bytes_up) AS up, SUM(bytes_down) AS down, SUM(sessions) AS sessions FROM F$day GROUP BY app ORDER BY down DESC LIMIT 8"
echo
echo "== midtable -once: rollups from the sync_files"
bin/midtable -data "$data" -dsn "$dsn" -once -log-level warn
echo "rollup tables: $(sql -N -e "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'Mid%'")"
hour=$(sql -N -e "SELECT DATE_FORMAT(MIN(ts), '%Y-%m-%d %H:00') FROM F$day")
next=$(sql -N -e "SELECT DATE_FORMAT(MIN(ts) + INTERVAL 1 HOUR, '%Y-%m-%d %H:00') FROM F$day")
echo "== midtable query: traffic per app, $hour to $next"
bin/midtable query -data "$data" -dsn "$dsn" -table F -by A -from "$hour" -to "$next" -top 5 -order bytes_down

echo
echo "== recover -check"
bin/recover -data "$data" -dsn "$dsn" -check -log-level warn

echo
echo "== mail: aclog + loader on two SMTP captures with attachments (aclog/testdata/pcaps/smtp)"
bin/aclog -data "$data" -gateway 5F86F7A5 -r aclog/testdata/pcaps/smtp/smtp-zip.pcap aclog/testdata/pcaps/smtp/smtp.pcap -log-level warn
bin/loader -data "$data" -dsn "$dsn" -once -log-level warn
sql -t -e "SELECT ts, mail_subject, len, parse_sign, image_sign, attachments, file_path FROM M20131217 ORDER BY ts"

echo
echo "== console: the web console on the demo's data"
addr=${ACSTORE_CONSOLE_ADDR:-127.0.0.1:$((port + 1000))}
if [ -f "$data/../console.pid" ]; then kill "$(cat "$data/../console.pid")" 2>/dev/null || true; fi
login=$(bin/console user add -name demo -role admin -dsn "$dsn")
bin/console user add -name auditor -role auditor -gateways 5F86F7A5 -password-file <(echo "auditor-demo-pw") -dsn "$dsn" >/dev/null
setsid bin/console -listen "$addr" -insecure -data "$data" -dsn "$dsn" -log-level warn >var/console.log 2>&1 < /dev/null &
echo $! > "$data/../console.pid"
for _ in $(seq 50); do curl -fs -o /dev/null "http://$addr/login" && break; sleep 0.1; done
curl -fs -o /dev/null "http://$addr/login" || { echo "console did not start; see var/console.log" >&2; cat var/console.log >&2; exit 1; }
echo "console running in the background (pid $(cat "$data/../console.pid"), log var/console.log; stop: kill \$(cat var/console.pid))"
echo "  a mail with its attachment: http://$addr/search?t=M&from=2013-12-17T00:00&to=2013-12-18T00:00"
echo "  a report:                   http://$addr/report/traffic?from=2022-03-17T00:00&to=2022-03-18T00:00"
echo "  auditor login: auditor / auditor-demo-pw (gateway 5F86F7A5 only)"
echo "console: http://$addr/"
echo "login:   ${login#user }" | sed 's/ (admin) password: / \/ /'
