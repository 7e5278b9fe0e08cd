#!/usr/bin/env bash
# One-command set-up on a fresh Debian machine (README: `npm run setup`).
# 1. Debian packages the Python trainer and the tests need, installed only when missing.
# 2. npm dependencies from the lock file, without onnxruntime-node's CUDA download (below).
# 3. Build of the TypeScript packages.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

APT_PACKAGES=(
  python3 python3-torch python3-numpy python3-grpcio python3-protobuf python3-zmq python3-onnx
  python3-pil python3-yaml python3-jsonschema python3-opencv python3-pytest
  python3-pydicom python3-gdcm
  libtcmalloc-minimal4
  black flake8 mypy
  protobuf-compiler protobuf-compiler-grpc
  ffmpeg chromium
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages present"
fi

/usr/bin/python3 -c "import torch, grpc, zmq, onnx, numpy, PIL, yaml, jsonschema, cv2" \
  || { echo "setup: /usr/bin/python3 cannot import the trainer's dependencies" >&2; exit 1; }

# On linux/x64 onnxruntime-node's postinstall (script/install.js) fetches its CUDA/TensorRT
# provider libraries from NuGet whenever they are missing, GPU or not; offline that fails `npm ci`.
# The CPU provider is bundled. Its supported switch is this environment variable: an .npmrc key
# works too but npm warns "Unknown project config" on every command and will drop it.
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund
NX_DAEMON=false NX_NO_CLOUD=true npx nx run-many -t build --outputStyle=static
echo "setup: done"
