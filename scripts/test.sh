#!/usr/bin/env bash
# The project's test command (the README names it, .ci/run runs it). It
# fetches the real-model fixtures (cached), then runs the Go test suite with
# the SIMD kernels, again with the portable kernels forced, and the kernel
# battery under arm64 emulation when qemu-user is installed: every path must
# give the same bits.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== fixtures (PP-OCRv4 models, onnxruntime reference outputs)"
bash scripts/fixtures.sh

echo "== go vet"
GOEXPERIMENT=simd go vet ./...

echo "== go test (SIMD kernels)"
GOEXPERIMENT=simd go test -timeout 25m ./...

echo "== go test ./ops ./infer (portable kernels: purego tag, and no SIMD experiment)"
GOEXPERIMENT=simd go test -tags purego -timeout 10m ./ops/... ./infer/...
go test -timeout 10m ./ops/...

echo "== arm64 under qemu-user (the op battery against the same golden digest)"
if command -v qemu-aarch64 >/dev/null 2>&1; then
	bash scripts/test-arm64.sh
elif [ "${PROVENA_REQUIRE_QEMU:-0}" = 1 ]; then
	echo "qemu-aarch64 missing and PROVENA_REQUIRE_QEMU=1" >&2
	exit 1
else
	echo "SKIPPED: qemu-aarch64 not installed (apt-get install -y qemu-user; .ci/run does)"
fi
