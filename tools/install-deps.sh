#!/bin/sh
# Installs the Debian packages drover needs to build and test, when missing.
# Usage: tools/install-deps.sh [--bench] [--fuzz]
#   --bench adds nginx, haproxy, wrk, apache2 (bench/ajp_bench.py); --fuzz adds clang
#   and its libFuzzer/sanitizer runtime (make fuzz).
set -e
# chromium, chromium-driver and python3-selenium: t/integration/test_browser.py drives
# the balancer-manager page in headless Chromium (the largest install here: about
# 130 packages, 150 MB to download, 2 minutes on a fresh Debian 12; the test skips
# with the reason when they are missing).
# tomcat10 (with its JDT compiler and a JRE): the real-Tomcat AJP tests
# (t/integration/test_ajp_tomcat.py; skipped without it). Its service is never
# started by the tests, which run their own instances.
pkgs="g++ make pkg-config libevent-dev libssl-dev libinih-dev libpcre2-dev libgtest-dev
libbenchmark-dev python3 python3-pytest python3-websockets curl openssl
chromium chromium-driver python3-selenium tomcat10"
for arg in "$@"; do
  case "$arg" in
    --bench) pkgs="$pkgs nginx-light haproxy wrk gnuplot-nox valgrind apache2" ;;
    --fuzz) pkgs="$pkgs clang libclang-rt-14-dev" ;;
    *) echo "install-deps: unknown option '$arg'" >&2; exit 1 ;;
  esac
done
missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: need root to run apt-get install$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
