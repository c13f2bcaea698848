#!/usr/bin/env bash
# deps.sh — install the Debian packages acstore needs, if any is missing:
# libpcap (aclog's live capture), tshark (parser tests compare with it),
# lz4 and xz-utils (tests check the standard tools read sync_files) and
# MariaDB (the private instance), chromium and chromium-driver (the
# console's browser tests drive headless Chromium), tcpdump (aclog -watch is
# tested on a real tcpdump -G rotation), systemd (its systemd-analyze
# verifies the units under packaging/systemd), openssl (internal/readme
# runs the README's certificate recipe), tcpreplay and iproute2 (aclog's
# live test replays captures into a veth pair in a network namespace),
# mariadb-plugin-spider (the Spider front that spans head office's
# shards: scripts/shards.sh).
set -euo pipefail
need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v lz4 >/dev/null 2>&1 || need+=(lz4)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v tcpdump >/dev/null 2>&1 || [ -x /usr/bin/tcpdump ] || [ -x /usr/sbin/tcpdump ] || need+=(tcpdump)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
command -v tcpreplay >/dev/null 2>&1 || need+=(tcpreplay)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || need+=(iproute2)
[ -e /usr/include/pcap.h ] || need+=(libpcap-dev)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server mariadb-client)
[ -e /usr/lib/mysql/plugin/ha_spider.so ] || need+=(mariadb-plugin-spider)
[ ${#need[@]} -eq 0 ] && exit 0
echo "deps.sh: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections 2>/dev/null || true
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
