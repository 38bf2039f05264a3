#!/usr/bin/env bash
# Create the project's virtual environment and install what alice_gl and its tests need.
#
# Usage: scripts/setup_env.sh VENV_DIR EXTRAS
#   VENV_DIR  folder of the virtual environment (created when missing)
#   EXTRAS    pip extras to install with the package, for example "test" or "" for none
#
# Installs Debian's Mesa EGL packages with apt-get when libEGL.so.1 is missing, because
# moderngl's headless context needs EGL and a GL driver (Mesa's llvmpipe on machines without
# a GPU). With the "test" extra it also installs glslang-tools, whose glslangValidator checks
# the fragment shaders as GLSL ES 3.00. Safe to run again: each step is skipped when done.
set -euo pipefail

venv_dir=${1:-.venv}
extras=${2:-}
python=${PYTHON:-python3}

packages=()
if ! ldconfig -p | grep -q 'libEGL.so.1 ' || ! ldconfig -p | grep -q 'libGL.so.1 ' \
    || ! ls /usr/lib/*/dri/swrast_dri.so >/dev/null 2>&1 \
    || ! ls /usr/share/glvnd/egl_vendor.d/*mesa*.json >/dev/null 2>&1; then
    echo "Mesa EGL packages needed: libEGL.so.1, libGL.so.1 or the llvmpipe driver is missing"
    packages+=(libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libgbm1)
fi
if [[ ",$extras," == *",test,"* ]] && ! command -v glslangValidator >/dev/null; then
    packages+=(glslang-tools)
fi
if [ ${#packages[@]} -gt 0 ]; then
    sudo_cmd=""
    if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q "${packages[@]}"
fi

if [ ! -x "$venv_dir/bin/python" ]; then
    "$python" -m venv "$venv_dir"
fi

spec="."
if [ -n "$extras" ]; then spec=".[$extras]"; fi
"$venv_dir/bin/python" -m pip install -q --disable-pip-version-check -e "$spec"
