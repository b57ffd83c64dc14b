#!/usr/bin/env bash
# Installs the system programs Switchyard needs on a Debian machine. Idempotent: installs only what is missing.
# Needs root (apt-get); as another user it names what is missing and how to install it, and fails.
# Optional extras, only when asked (CI's test run needs neither):
#   SWITCHYARD_BROWSER=1  chromium (browser tests)
#   SWITCHYARD_BENCH=1 or --bench  nginx (the second static-file baseline of bench:origin-throughput)
set -euo pipefail
bench="${SWITCHYARD_BENCH:-0}"
for arg in "$@"; do
  case "$arg" in
    --bench) bench=1 ;;
    *) echo "switchyard: setup.sh: unknown argument $arg (known: --bench)" >&2; exit 2 ;;
  esac
done
# nginx lives in /usr/sbin, which a non-root PATH often lacks
has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
want=()
has nats-server || want+=(nats-server)
has ffmpeg || want+=(ffmpeg)
has ffprobe || want+=(ffmpeg)
has dot || want+=(graphviz)
has curl || want+=(curl)
if [ "${SWITCHYARD_BROWSER:-0}" = 1 ]; then has chromium || want+=(chromium); fi
want_nginx=0
if [ "$bench" = 1 ] && ! has nginx; then want+=(nginx); want_nginx=1; fi
if [ ${#want[@]} -eq 0 ]; then exit 0; fi
mapfile -t want < <(printf '%s\n' "${want[@]}" | sort -u)
if [ "$(id -u)" != 0 ]; then
  echo "switchyard: missing programs from Debian packages: ${want[*]}" >&2
  echo "switchyard: install them with: sudo apt-get update && sudo apt-get install -y ${want[*]}" >&2
  exit 1
fi

# Debian's nginx postinst starts a system nginx on port 80. The bench runs its own nginx on a free loopback port
# and wants nothing listening on 80 (a machine-wide web server nobody asked for, and a port another service may
# need), so invoke-rc.d is told "no starting services" (exit 101, the policy-rc.d protocol) for the install's
# duration. A policy-rc.d that was already there (Docker images ship one) is put back afterwards, untouched.
policy=/usr/sbin/policy-rc.d
policy_saved=""
restore_policy() {
  if [ -n "$policy_saved" ]; then mv -f "$policy_saved" "$policy"; else rm -f "$policy"; fi
}
if [ "$want_nginx" = 1 ]; then
  if [ -e "$policy" ]; then
    policy_saved="$(mktemp /usr/sbin/.policy-rc.d.switchyard.XXXXXX)"
    cp -p "$policy" "$policy_saved"
  fi
  trap restore_policy EXIT
  printf '#!/bin/sh\n# switchyard infra/setup.sh: no service starts while nginx is installed\nexit 101\n' >"$policy"
  chmod 755 "$policy"
fi

echo "switchyard: installing ${want[*]} (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null

if [ "$want_nginx" = 1 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  # the postinst also enables the unit: without this the system nginx would take port 80 at the next boot
  systemctl disable --now nginx >/dev/null 2>&1 || true
fi
