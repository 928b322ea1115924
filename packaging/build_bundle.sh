#!/usr/bin/env bash
# Builds the one-folder desktop bundle dist/forensics-gui/ (run dist/forensics-gui/forensics-gui),
# with the CPU build of PyTorch. Takes several minutes and about 5 GB of disk while building.
#   bash packaging/build_bundle.sh
# Environment:
#   BUNDLE_VENV      the build virtual environment (default build/bundle-venv; reused if present)
#   FORENSICS_TORCH  the torch requirement and options (default: torch==2.13.0 from PyTorch's CPU
#                    wheel index, falling back to PyPI's torch==2.13.0 when that index cannot be
#                    reached; on Linux PyPI's wheel is the CUDA build: a much larger bundle)
# Then: bash packaging/install_desktop.sh   (menu entry and icon for this user)
#       FORENSICS_BUNDLE_TEST=1 .venv/bin/python -m pytest -q tests/core/test_bundle.py   (smoke)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${BUNDLE_VENV:-build/bundle-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py="$venv/bin/python"
"$py" -m pip install -q --upgrade pip
source packaging/torch.sh
install_torch "$py"
"$py" -m pip install -q . "pyinstaller>=6.10"
"$py" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/forensics-gui.spec
echo "bundle: dist/forensics-gui ($(du -sh dist/forensics-gui | cut -f1)); run dist/forensics-gui/forensics-gui"
