#!/usr/bin/env bash
# Build the Debian package from the PyInstaller bundle and installer/linux/.
# Usage: scripts/build-deb.sh [OUT_DIR] (default: dist) → OUT_DIR/agentapp_<version>_<arch>.deb
# DEB_COMPRESSION=xz|gzip|none and DEB_COMPRESSION_LEVEL (default xz 6: the smallest
# download; tests use gzip 1, many times faster; zstd is refused by Debian 12's lintian and
# dpkg before 1.21.18).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:-dist}")
mkdir -p "$OUT"
VERSION=$(.venv/bin/python -c 'import agentapp; print(agentapp.__version__)')
ARCH=$(dpkg --print-architecture)
for tool in dpkg-deb dpkg-shlibdeps readelf strip glib-compile-schemas; do
  command -v "$tool" >/dev/null || { echo "deb: $tool is missing (apt-get install dpkg-dev)" >&2; exit 1; }
done
# Reproducible (installer/README.md): every time in the package is the changelog's last entry,
# unless SOURCE_DATE_EPOCH says otherwise; PyInstaller, argparse-manpage and dpkg-deb read it.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(dpkg-parsechangelog -l installer/linux/changelog -STimestamp)}
export SOURCE_DATE_EPOCH PYTHONHASHSEED=0
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
ROOT="$STAGE/debian/agentapp"  # (the layout dpkg-shlibdeps reads)
mkdir -p "$ROOT"

bash scripts/build-bundle.sh "$STAGE/bundle"
install -d -m 0755 "$ROOT/DEBIAN" "$ROOT/opt" "$ROOT/usr/bin" "$ROOT/etc/xdg/autostart" \
  "$ROOT/usr/share/applications" "$ROOT/usr/share/doc/agentapp"
mv "$STAGE/bundle/agentapp" "$ROOT/opt/agentapp"
ln -s /opt/agentapp/agentapp "$ROOT/usr/bin/agentapp"
L=installer/linux
install -m 0644 "$L/agentapp.desktop" "$ROOT/etc/xdg/autostart/agentapp.desktop"
install -m 0644 "$L/agentapp-console.desktop" "$ROOT/usr/share/applications/"
# the licences in Debian's machine-readable form, and the GPL's written source offer with
# the versions this bundle was built from
install -m 0644 "$L/copyright" "$ROOT/usr/share/doc/agentapp/copyright"
.venv/bin/python scripts/source_offer.py "$L/SOURCE-OFFER.in" \
  >"$ROOT/usr/share/doc/agentapp/SOURCE-OFFER"
install -m 0644 THIRD_PARTY_LICENSES.md README.md "$ROOT/usr/share/doc/agentapp/"
install -d -m 0755 "$ROOT/usr/share/lintian/overrides"
install -m 0644 "$L/lintian-overrides" "$ROOT/usr/share/lintian/overrides/agentapp"
# the rules and the guides, with the screenshots they show (README's links resolve there)
(cd docs && find . -name '*.md' -o -name '*.png') | while read -r f; do
  install -D -m 0644 "docs/$f" "$ROOT/usr/share/doc/agentapp/docs/$f"
done
install -D -m 0644 resources/policy-example.toml \
  "$ROOT/usr/share/doc/agentapp/resources/policy-example.toml"
# GNOME on Wayland: the desk extension, with its settings schema compiled, enabled for every
# user by a GSettings vendor default (not locked: docs/it-guide.md says how to lock it with
# dconf), and Debian's PyGObject made visible to the bundle (capture/screencast.py)
EXT=agentapp-desk@agentapp
install -d -m 0755 "$ROOT/usr/share/gnome-shell/extensions/$EXT/schemas"
install -m 0644 "resources/gnome-shell/$EXT/metadata.json" "resources/gnome-shell/$EXT/extension.js" \
  "$ROOT/usr/share/gnome-shell/extensions/$EXT/"
install -m 0644 "resources/gnome-shell/$EXT/schemas/"*.gschema.xml \
  "$ROOT/usr/share/gnome-shell/extensions/$EXT/schemas/"
glib-compile-schemas "$ROOT/usr/share/gnome-shell/extensions/$EXT/schemas"
install -D -m 0644 "$L/90_agentapp.gschema.override" \
  "$ROOT/usr/share/glib-2.0/schemas/90_agentapp.gschema.override"
install -d -m 0755 "$ROOT/opt/agentapp/system-gi"
ln -s /usr/lib/python3/dist-packages/gi "$ROOT/opt/agentapp/system-gi/gi"
# agentapp(1), written from the parser (it cannot drift from --help), and the changelog
install -d -m 0755 "$ROOT/usr/share/man/man1"
.venv/bin/python scripts/manpage.py "$STAGE/agentapp.1"
gzip -9n <"$STAGE/agentapp.1" >"$ROOT/usr/share/man/man1/agentapp.1.gz"
gzip -9n <"$L/changelog" >"$ROOT/usr/share/doc/agentapp/changelog.gz"
chmod 0644 "$ROOT/usr/share/man/man1/agentapp.1.gz" "$ROOT/usr/share/doc/agentapp/changelog.gz"
# the site's daily purge, for the machine that holds the site folder (enabled by IT:
# systemctl enable --now agentapp-site-purge@ACCOUNT.timer)
install -d -m 0755 "$ROOT/usr/lib/systemd/system"
install -m 0644 "$L/agentapp-site-purge@.service" "$L/agentapp-site-purge@.timer" \
  "$ROOT/usr/lib/systemd/system/"
install -m 0755 "$L/config" "$L/postinst" "$L/prerm" "$L/postrm" "$ROOT/DEBIAN/"
install -m 0644 "$L/templates" "$L/conffiles" "$ROOT/DEBIAN/"
SIZE=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
DEPENDS=$(.venv/bin/python scripts/deb_depends.py "$STAGE")
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$SIZE/" \
  -e "s#@DEPENDS@#$DEPENDS#" "$L/control.in" >"$ROOT/DEBIAN/control"
# Bundle files: read-only for all, executables keep their x bit; nothing group/other-writable;
# shared libraries are not executables.
chmod -R u+rwX,go+rX,go-w "$ROOT/opt/agentapp"
find "$ROOT/opt/agentapp/_internal" -type f \( -name '*.so' -o -name '*.so.*' \) -exec chmod 0644 {} +

# no file newer than the build's time (the copies made just now, the bundle's own files)
find "$ROOT" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

DEB="$OUT/agentapp_${VERSION}_${ARCH}.deb"
echo "deb: dpkg-deb (${DEB_COMPRESSION:-xz}) → $DEB"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" -z"${DEB_COMPRESSION_LEVEL:-6}" \
  --build "$ROOT" "$DEB" >/dev/null
echo "deb: $(du -h "$DEB" | cut -f1) ($((SIZE / 1024)) MB installed)"
