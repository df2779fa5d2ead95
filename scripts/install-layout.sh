#!/bin/sh
# Installs everything but the Python package into DESTDIR, in the layout of a monitoring
# plugin package. Run from the top of the tree by debian/rules and kvmcluster.spec, after the
# Python package itself is installed (setup.py install, which also writes console scripts to
# /usr/bin: the check_* ones are removed here, the plugins live in the plugin directory).
#
#   sh scripts/install-layout.sh DESTDIR PLUGINDIR NRPEDIR [PYTHON]
#     Debian: debian/kvmcluster /usr/lib/nagios/plugins/kvmcluster /etc/nagios/nrpe.d
#     RHEL:   %{buildroot} /usr/lib64/nagios/plugins/kvmcluster /etc/nrpe.d /usr/bin/python3
#
# PLUGINDIR is a directory of its own under the distribution's plugin directory: the Monitoring
# Plugins (monitoring-plugins-basic, nagios-plugins-cluster) already install a check_cluster.
#
#   PLUGINDIR/check_*            the plugins (plugins/*.py, without the .py)
#   /usr/bin/kvmcluster          the command; PLUGINDIR/kvmcluster links to it (lint check)
#   /usr/share/icinga2/include/plugins-contrib.d/kvmcluster.conf
#                                icinga/commands.conf as it is, after defaults for the
#                                constants of icinga/constants.conf that the config lacks
#                                (KvmclusterPluginDir: PLUGINDIR)
#   NRPEDIR/kvmcluster.cfg       icinga/nrpe.cfg with PLUGINDIR (conffile)
#   /etc/kvmcluster/sudoers      icinga/sudoers, mode 0440 (conffile), not active: enable it
#                                with `ln -s /etc/kvmcluster/sudoers /etc/sudoers.d/kvmcluster`
#   /usr/share/kvmcluster/       examples (captures, descriptions), the Icinga apply rules and
#                                prometheus/ (alert rules, dashboard, textfile timer)
set -eu

[ $# -ge 3 ] || { echo "usage: $0 DESTDIR PLUGINDIR NRPEDIR [PYTHON]" >&2; exit 2; }
dest=$1
plugindir=$2
nrpedir=$3
python=${4:-/usr/bin/python3}
case $plugindir in
/usr/*/*) ;;
*) echo "$0: PLUGINDIR must be under /usr: $plugindir" >&2; exit 2 ;;
esac
# PLUGINDIR/kvmcluster -> /usr/bin/kvmcluster, relative (../ for each level below /usr)
up=$(echo "${plugindir#/usr/}" | sed 's|[^/]*|..|g')

# the plugins: the small files of plugins/, with the distribution's interpreter
install -d "$dest$plugindir" "$dest/usr/bin"
for source in plugins/check_*.py; do
    name=$(basename "$source" .py)
    rm -f "$dest/usr/bin/$name"
    { echo "#!$python"; sed 1d "$source"; } >"$dest$plugindir/$name"
    chmod 0755 "$dest$plugindir/$name"
done
cat >"$dest/usr/bin/kvmcluster" <<EOF
#!$python
"""kvmcluster: status, collect, generate, lint, import. Run \`kvmcluster -h\`."""

import sys

from kvmcluster.cli import main

sys.exit(main())
EOF
chmod 0755 "$dest/usr/bin/kvmcluster"
ln -sf "$up/bin/kvmcluster" "$dest$plugindir/kvmcluster"

# Icinga 2: `include <plugins-contrib>` reads plugins-contrib.d/*.conf
contrib="$dest/usr/share/icinga2/include/plugins-contrib.d"
install -d "$contrib"
{
    echo "/* kvmcluster CheckCommands, installed by the kvmcluster package from icinga/commands.conf."
    echo " * Found by \`include <plugins-contrib>\`. The constants below are defaults: set them in"
    echo " * your constants.conf (before the includes) to change them."
    echo " */"
    echo "if (!globals.contains(\"KvmclusterPluginDir\")) {"
    printf '\tconst KvmclusterPluginDir = "%s"\n}\n' "$plugindir"
    grep -v '^const KvmclusterPluginDir ' icinga/constants.conf |
        sed -n 's/^const \([A-Za-z_][A-Za-z0-9_]*\) = \(.*\)$/if (!globals.contains("\1")) {\n\tconst \1 = \2\n}/p' 
    echo
    cat icinga/commands.conf
} >"$contrib/kvmcluster.conf"
chmod 0644 "$contrib/kvmcluster.conf"

# NRPE commands and the sudoers rules (conffiles: the admin adapts them)
install -d "$dest$nrpedir" "$dest/etc/kvmcluster"
sed "s|/usr/lib/nagios/plugins/kvmcluster/|$plugindir/|g" icinga/nrpe.cfg >"$dest$nrpedir/kvmcluster.cfg"
chmod 0644 "$dest$nrpedir/kvmcluster.cfg"
install -m 0440 icinga/sudoers "$dest/etc/kvmcluster/sudoers"

# examples: `kvmcluster demo /usr/share/kvmcluster/examples/captures`, the descriptions,
# the Icinga apply rules and example hosts (copied into the admin's own config)
share="$dest/usr/share/kvmcluster"
install -d "$share/examples" "$share/icinga"
cp -R examples/. "$share/examples/"
for file in icinga/*.conf; do
    [ "$file" = icinga/commands.conf ] || install -m 0644 "$file" "$share/icinga/"
done
# Prometheus: the alert rules (and their promtool tests), the Grafana dashboard, the systemd
# timer of the textfile mode (README, Prometheus)
install -d "$share/prometheus"
for file in prometheus/*; do
    install -m 0644 "$file" "$share/prometheus/"
done
find "$share" -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +
