#!/bin/sh
# Set up kvmcluster on Debian 12 as root: Debian packages, then a virtualenv in .venv with the
# project installed (`pip install .`). Idempotent: packages already present are not fetched again.
#   scripts/setup.sh          what the plugins need
#   scripts/setup.sh --test   plus the real components and tools the test suite uses
set -eu
cd "$(dirname "$0")/.."

packages="python3 python3-venv python3-dev gcc pkg-config libvirt-dev"
extras=""
if [ "${1:-}" = "--test" ]; then
    packages="$packages drbd-utils lvm2 util-linux procps sudo perl corosync pacemaker pacemaker-cli-utils icinga2-bin icinga2-common nagios-nrpe-server nagios-nrpe-plugin openssh-server openssh-client time libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 pcs fence-agents debhelper dh-python python3-all python3-setuptools dpkg-dev fakeroot lintian rpm python3-nagiosplugin python3-lxml python3-psutil python3-libvirt monitoring-plugins-basic openssl corosync-qdevice prometheus prometheus-node-exporter"
    extras="[test]"
fi

missing=""
for package in $packages; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $package"
done
if [ -n "$missing" ]; then
    echo "Installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

python=/usr/bin/python3
[ -x "$python" ] || python=python3
[ -x .venv/bin/python ] || "$python" -m venv .venv
# The tests run the working tree: an editable install, so a change in the source is what they test.
editable=""
[ "${1:-}" = "--test" ] && editable="-e"
# shellcheck disable=SC2086
.venv/bin/pip install -q --disable-pip-version-check $editable ".$extras"
