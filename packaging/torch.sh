# Sourced by install.sh and build_bundle.sh: install_torch PYTHON installs PyTorch into PYTHON's
# environment. The truth about PyTorch wheels on Linux: PyPI's `torch` is the CUDA build (it pulls
# the nvidia-* CUDA libraries, several GB); the CPU build (about 200 MB download) comes from
# PyTorch's own index, https://download.pytorch.org/whl/cpu. Default: the CPU build from that
# index, and PyPI's build when that index cannot be reached (a machine that reaches only PyPI, or
# a local PyPI mirror; pip says which it installed). FORENSICS_TORCH overrides it all, e.g.
#   FORENSICS_TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
TORCH_CPU_INDEX="https://download.pytorch.org/whl/cpu"

install_torch() {
    local py="$1"
    if [ -n "${FORENSICS_TORCH:-}" ]; then
        # shellcheck disable=SC2086  # the variable holds a requirement plus pip options
        "$py" -m pip install -q $FORENSICS_TORCH
    elif ! "$py" -m pip install -q --retries 1 --timeout 20 "torch==$TORCH_VERSION" \
            --index-url "$TORCH_CPU_INDEX" 2>/dev/null; then
        echo "PyTorch's CPU index ($TORCH_CPU_INDEX) cannot be reached: installing torch==$TORCH_VERSION from PyPI."
        echo "  (On Linux PyPI's wheel is the CUDA build, several GB, unless your index serves a CPU wheel.)"
        "$py" -m pip install -q "torch==$TORCH_VERSION"
    fi
    # Say which build it is, whatever the route (a pip find-links folder may have served it).
    "$py" -c 'import torch; print("PyTorch", torch.__version__, "(CUDA build)" if torch.version.cuda else "(CPU build)")'
}
