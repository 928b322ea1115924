#!/usr/bin/env bash
# Installs forensics-gui into ./.venv on a fresh Debian/Ubuntu machine.
#   bash packaging/install.sh          the app (CPU PyTorch)
#   bash packaging/install.sh --test   the app plus the test tools
# PyTorch (packaging/torch.sh): on Linux, PyPI's `torch` wheel is the CUDA build (several GB); the
# CPU build comes from PyTorch's CPU wheel index, https://download.pytorch.org/whl/cpu. This script
# installs torch==2.13.0 from that index, and from PyPI when only PyPI can be reached.
# Set FORENSICS_TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126" (your
# CUDA version) for the GPU build, or FORENSICS_TORCH="torch==2.13.0" for PyPI's wheel.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--test" ] && extras="[test]"

# Qt's multimedia module links libpulse; the xcb libraries let the window open on X11/Xvfb.
sys_pkgs="libpulse0 libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxcb-image0 libxcb-render-util0 libxcb-xkb1 \
libxcb-shape0 libxcb-randr0 libxcb-xinerama0 fonts-dejavu-core"
# The tests also look at real X windows (Xvfb, framed by openbox) and listen to real sound
# (PulseAudio, null sink).
[ -n "$extras" ] && sys_pkgs="$sys_pkgs xvfb xauth x11-utils openbox pulseaudio pulseaudio-utils"
if command -v apt-get >/dev/null 2>&1; then
    missing=""
    for p in $sys_pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    if [ -n "$missing" ]; then
        sudo_cmd=""
        [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
        $sudo_cmd apt-get update -qq
        $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
    fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# PyTorch first, the build chosen above: the app's bare "torch" requirement would otherwise
# pull PyPI's multi-GB CUDA build.
source packaging/torch.sh
install_torch .venv/bin/python
.venv/bin/python -m pip install -q -e ".${extras}"
if [ -n "$extras" ]; then
    # The official AV-Deepfake1M SDK, only for the tests that compare eval with it (its compiled
    # metric alone is loaded, so none of its own dependencies are needed); they skip without it.
    .venv/bin/python -m pip install -q --no-deps avdeepfake1m==0.0.4 \
        || echo "(the official AV-Deepfake1M SDK is not installed: its comparison tests will skip)"
    # Ray (the [cluster] extra: audit/batch --ray), so the tests on a local Ray instance run too.
    .venv/bin/python -m pip install -q -e ".[cluster]" \
        || echo "(Ray could not be installed on this Python: the --ray tests will skip)"
fi
echo "forensics-gui installed in .venv (run .venv/bin/forensics-gui)"
