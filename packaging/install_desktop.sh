#!/usr/bin/env bash
# Puts forensics-gui into this user's application menu: the .desktop entry and the icon under
# ~/.local/share (XDG_DATA_HOME), with Exec pointing at the bundle (or at a given program).
#   bash packaging/install_desktop.sh                  uses dist/forensics-gui/forensics-gui
#   bash packaging/install_desktop.sh /path/to/forensics-gui
#   bash packaging/install_desktop.sh --uninstall
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
icons="$data/icons/hicolor/scalable/apps"
if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$apps/forensics-gui.desktop" "$icons/forensics-gui.svg"
    echo "removed the forensics-gui menu entry and icon from $data"
    exit 0
fi
program="${1:-$root/dist/forensics-gui/forensics-gui}"
if [ ! -x "$program" ]; then
    echo "install_desktop.sh: $program is not an executable program; build the bundle first (bash packaging/build_bundle.sh) or name the program to start." >&2
    exit 2
fi
program="$(cd "$(dirname "$program")" && pwd)/$(basename "$program")"
mkdir -p "$apps" "$icons"
cp "$root/resources/forensics-gui.svg" "$icons/forensics-gui.svg"
# Exec quoted per the Desktop Entry spec: inside quotes \ " ` $ take a backslash, and the string
# escape doubles each backslash again (a path with spaces stays one argument).
e="${program//\\/\\\\\\\\}"
e="${e//\"/\\\\\"}"
e="${e//\`/\\\\\`}"
e="${e//\$/\\\\\$}"
tmp="$(mktemp "$apps/.forensics-gui.desktop.XXXXXX")"
while IFS= read -r line; do
    case "$line" in
        Exec=*) printf 'Exec="%s" %%f\n' "$e" ;;
        *) printf '%s\n' "$line" ;;
    esac
done < "$root/resources/forensics-gui.desktop" > "$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$apps/forensics-gui.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$apps" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 \
    && gtk-update-icon-cache -q -t "$data/icons/hicolor" 2>/dev/null || true
echo "menu entry: $apps/forensics-gui.desktop (starts $program); icon: $icons/forensics-gui.svg"
