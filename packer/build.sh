#!/usr/bin/env bash
# Builds a Stressgrid machine image from this checkout:
#   packer/build.sh <coordinator|generator> <amazon-ebs|googlecompute> [packer build options...]
# e.g.
#   AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... packer/build.sh generator amazon-ebs
#   GOOGLE_APPLICATION_CREDENTIALS=... packer/build.sh coordinator googlecompute -var gcp_project_id=my-project
# It packs the release with `npm pack` (native addons prebuilt for this machine's
# platform: build on x86-64 Linux for the default x86-64 images), fetches Packer's
# plugins, and runs `packer build` for that role on that cloud.
set -euo pipefail

if [ "$#" -lt 2 ]; then
  sed -n '2,9p' "$0" >&2
  exit 2
fi
role="$1"
builder="$2"
shift 2
case "$role" in coordinator | generator) ;; *) echo "role must be coordinator or generator, not '$role'" >&2 && exit 2 ;; esac
case "$builder" in amazon-ebs | googlecompute) ;; *) echo "builder must be amazon-ebs or googlecompute, not '$builder'" >&2 && exit 2 ;; esac

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

tarball="$(cd "$root" && npm pack --silent --pack-destination "$out" | tail -n 1)"
packer init "$here"
packer build -only="$builder.ubuntu" -var "role=$role" -var "release=$out/$tarball" "$@" "$here"
