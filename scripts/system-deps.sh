#!/usr/bin/env bash
# Debian packages diptych needs: ffmpeg (decode/encode), espeak-ng (the demo's voice); for the
# tests also chromium (browser tests), postgresql (the work-pool tests' throwaway cluster), Java
# (the Nu HTML Checker) and node with npm (the feed parser and axe-core, installed from npm by
# `make validators`). Installs them when missing and we are root; otherwise prints the exact
# command and stops. No service is started: the tests run their own cluster.
set -euo pipefail
want=(ffmpeg espeak-ng)
missing=()
if [ "${1:-}" = "--test" ]; then
  want+=(chromium postgresql)
  # Programs that may come from elsewhere than Debian's packages (a machine's own node or JDK) count.
  command -v java >/dev/null || missing+=(default-jre-headless)
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Debian's postgresql package starts its own cluster unless policy-rc.d says no: say no for
  # this install only (Docker images already do), so no system service is started or changed.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "diptych needs: ${missing[*]}. Run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
