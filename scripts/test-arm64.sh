#!/bin/sh
# Cross-compiles the operator and kernel tests for arm64 and runs them under
# qemu-user (Debian package qemu-user), so the committed golden digest in
# ops/testdata/digest.txt is checked on a second architecture, where Go
# would fuse multiply-adds if any float expression allowed it.
set -eu
cd "$(dirname "$0")/.."
command -v qemu-aarch64 >/dev/null || { echo "qemu-aarch64 not found: apt-get install -y qemu-user" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for pkg in ops internal/fmath internal/kernels; do
	name=$(echo "$pkg" | tr / _)
	GOARCH=arm64 CGO_ENABLED=0 go test -c -o "$tmp/$name.test" "./$pkg"
	echo "== $pkg (arm64, qemu)"
	(cd "$pkg" && qemu-aarch64 "$tmp/$name.test" -test.short "$@")
done
