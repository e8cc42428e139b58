#!/usr/bin/env bash
# The bench's tools, installed from the project's own files: wrk (Debian's package), a Java runtime
# for WireMock (Debian's package, only where none is on the machine) and the npm packages pinned in
# bench/package-lock.json (WireMock's standalone jar, Stoplight Prism). Each step is skipped when
# its tool is already there, so `make bench` pays for this once per machine.
set -euo pipefail
cd "$(dirname "$0")"

# apt_install TOOL PACKAGE: install PACKAGE, which brings the missing command TOOL.
apt_install() {
    local tool=$1 package=$2
    if [ "$(id -u)" -ne 0 ]; then
        echo "bench/tools.sh: $tool is missing and only root can apt-get install $package" >&2
        exit 1
    fi
    # A machine whose package lists were never fetched knows no package: fetch them and try again.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null; }
}

command -v wrk >/dev/null || apt_install wrk wrk
command -v java >/dev/null || apt_install java openjdk-17-jre-headless

# npm ci installs exactly the lock file; node_modules/.package-lock.json is npm's record of it.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --silent
fi
