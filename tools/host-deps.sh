#!/bin/sh
# Install the host's Debian packages the harness needs, if any are missing.
set -eu
# Extra package names on the command line are added (e.g. what building Xen needs).
PKGS="qemu-system-x86 nasm gcc make binutils cpio gzip python3 python3-venv debian-archive-keyring $*"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -n "$missing" ] || exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "==> installing host packages:$missing"
$SUDO apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
