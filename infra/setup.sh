#!/usr/bin/env bash
# Installs the system programs Switchyard needs on a Debian machine. Idempotent: installs only what is missing.
# Needs root (apt-get); as another user it names what is missing and how to install it, and fails.
set -euo pipefail
want=()
command -v nats-server >/dev/null 2>&1 || want+=(nats-server)
command -v ffmpeg >/dev/null 2>&1 || want+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || want+=(ffmpeg)
command -v dot >/dev/null 2>&1 || want+=(graphviz)
command -v curl >/dev/null 2>&1 || want+=(curl)
if [ "${SWITCHYARD_BROWSER:-0}" = 1 ]; then command -v chromium >/dev/null 2>&1 || want+=(chromium); fi
if [ ${#want[@]} -eq 0 ]; then exit 0; fi
mapfile -t want < <(printf '%s\n' "${want[@]}" | sort -u)
if [ "$(id -u)" != 0 ]; then
  echo "switchyard: missing programs from Debian packages: ${want[*]}" >&2
  echo "switchyard: install them with: sudo apt-get update && sudo apt-get install -y ${want[*]}" >&2
  exit 1
fi
echo "switchyard: installing ${want[*]} (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
