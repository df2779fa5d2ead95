#!/bin/sh
# Builds the Debian package and the RPM into OUTDIR, from a copy of the tree in a temporary
# directory (nothing is built or left in the tree itself).
#
#   sh scripts/package.sh OUTDIR [--deb-only|--rpm-only] [--from-head]
#
#   OUTDIR/kvmcluster_VERSION_all.deb        dpkg-buildpackage -us -uc -b (debhelper, pybuild)
#   OUTDIR/kvmcluster-VERSION-1.noarch.rpm   rpmbuild -bb kvmcluster.spec
#   OUTDIR/kvmcluster-VERSION.tar.gz         the source tarball the RPM is built from
#
# The copy is the working tree (tracked and new files, as `git ls-files` lists them; what
# .gitignore excludes is left out), or the last commit with --from-head (git archive HEAD).
# Needs (Debian): debhelper dh-python python3-all python3-setuptools dpkg-dev fakeroot; rpm
# for the RPM. On Debian rpmbuild runs with --nodeps: its database does not know the
# BuildRequires (python3-devel), which are RHEL packages.
set -eu

usage() { echo "usage: $0 OUTDIR [--deb-only|--rpm-only] [--from-head]" >&2; exit 2; }
[ $# -ge 1 ] || usage
out=$1
shift
deb=1
rpm=1
head=0
for arg in "$@"; do
    case $arg in
    --deb-only) rpm=0 ;;
    --rpm-only) deb=0 ;;
    --from-head) head=1 ;;
    *) usage ;;
    esac
done

top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$top/kvmcluster/__init__.py")
[ -n "$version" ] || { echo "$0: no __version__ in kvmcluster/__init__.py" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/kvmcluster-package.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
src="$work/kvmcluster-$version"
mkdir "$src"

if [ "$head" = 1 ]; then
    git -C "$top" archive HEAD | tar -x -C "$src"
elif git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # tracked and new files of the working tree (a deleted tracked file is skipped)
    (cd "$top" && git ls-files -z --cached --others --exclude-standard) |
        (cd "$top" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
        (cd "$top" && tar --null --no-recursion -T - -cf -) | tar -x -C "$src"
else
    (cd "$top" && tar --exclude=.venv --exclude=.git --exclude='*.egg-info' --exclude=build \
        --exclude=__pycache__ --exclude=.pytest_cache --exclude=.ruff_cache \
        --exclude=.hypothesis -cf - .) | tar -x -C "$src"
fi

if [ "$rpm" = 1 ]; then  # the source tarball, before a build writes into the copy
    mkdir -p "$work/rpm/SOURCES"
    tar -C "$work" -czf "$work/rpm/SOURCES/kvmcluster-$version.tar.gz" "kvmcluster-$version"
fi

if [ "$deb" = 1 ]; then
    (cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/deb.log" 2>&1 || {
        tail -40 "$work/deb.log" >&2
        echo "$0: dpkg-buildpackage failed (log above)" >&2
        exit 1
    }
    cp "$work"/kvmcluster_"$version"_all.deb "$out/"
    cp "$work"/kvmcluster_"$version"_*.buildinfo "$work"/kvmcluster_"$version"_*.changes "$out/"
    echo "$out/kvmcluster_${version}_all.deb"
fi

if [ "$rpm" = 1 ]; then
    set -- --define "_topdir $work/rpm"
    if [ -e /etc/debian_version ]; then
        # Debian's rpm: no database of the BuildRequires, and the python dependency generator
        # needs a module Debian's rpm does not pull in (the RHEL build generates them)
        set -- "$@" --nodeps --define "__pythondist_requires %{nil}" \
            --define "__pythondist_provides %{nil}"
    fi
    rpmbuild -tb "$@" "$work/rpm/SOURCES/kvmcluster-$version.tar.gz" >"$work/rpm.log" 2>&1 || {
        tail -40 "$work/rpm.log" >&2
        echo "$0: rpmbuild failed (log above)" >&2
        exit 1
    }
    cp "$work"/rpm/RPMS/noarch/kvmcluster-"$version"-*.noarch.rpm "$out/"
    cp "$work/rpm/SOURCES/kvmcluster-$version.tar.gz" "$out/"
    ls "$out"/kvmcluster-"$version"-*.noarch.rpm
fi
