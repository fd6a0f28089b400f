#!/usr/bin/env bash
# Turns a fresh Ubuntu LTS machine into a Stressgrid coordinator or generator
# image. Run as root by Packer's shell provisioner with:
#   STRESSGRID_ROLE  coordinator | generator
#   NODE_MAJOR       Node.js major version from NodeSource (22)
#   RELEASE          the tarball `npm pack` made, already uploaded
#   DEPLOY           the uploaded deploy/ folder (systemd/, env/, sysctl/)
set -euo pipefail

: "${STRESSGRID_ROLE:?coordinator or generator}" "${NODE_MAJOR:?}" "${RELEASE:?}" "${DEPLOY:?}"
case "$STRESSGRID_ROLE" in
  coordinator | generator) ;;
  *)
    echo "STRESSGRID_ROLE must be coordinator or generator, not '$STRESSGRID_ROLE'" >&2
    exit 2
    ;;
esac
service="stressgrid-$STRESSGRID_ROLE"
export DEBIAN_FRONTEND=noninteractive

# Cloud images start apt's own updates at boot; wait for them to let go of the lock.
cloud-init status --wait >/dev/null 2>&1 || true

apt-get update -q
# Keep the image's own configuration files where a package ships a newer one (no prompt).
apt-get upgrade -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
apt-get install -y -q --no-install-recommends ca-certificates curl gnupg

# Node.js from NodeSource's signed apt repository (Ubuntu's own is older than Stressgrid needs).
install -d -m 0755 /etc/apt/keyrings
curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg
echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_${NODE_MAJOR}.x nodistro main" >/etc/apt/sources.list.d/nodesource.list
apt-get update -q
apt-get install -y -q nodejs
node --version

# The release: its prebuilt native addons match this x86-64 Linux, so no compiler is needed.
npm install --global --omit=dev --no-audit --no-fund "$RELEASE"
command -v "$service"
rm -f "$RELEASE"

# The user the service runs as; it owns nothing but its state directory.
if ! id stressgrid >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/stressgrid --no-create-home --shell /usr/sbin/nologin stressgrid
fi

install -m 0644 "$DEPLOY/sysctl/60-stressgrid.conf" /etc/sysctl.d/60-stressgrid.conf
install -m 0644 "$DEPLOY/systemd/$service.service" "/etc/systemd/system/$service.service"
# The example env file, unless one is already there; user data or a startup script fills it in.
if [ ! -e "/etc/default/$service.env" ]; then
  install -m 0640 -g stressgrid "$DEPLOY/env/$service.env" "/etc/default/$service.env"
fi
rm -rf "$DEPLOY"

systemctl daemon-reload
systemctl enable "$service.service"
sysctl --system >/dev/null

# Nothing of the build machine in the image: apt caches and logs (cloud-init makes
# new SSH host keys on each instance's first boot).
apt-get clean
rm -rf /var/lib/apt/lists/*
journalctl --rotate >/dev/null 2>&1 || true
journalctl --vacuum-time=1s >/dev/null 2>&1 || true
