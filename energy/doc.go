// Package energy is Provena's pure energy and carbon accounting: how much
// energy a job used, how much carbon that stands for, and which renewable
// production matches it. It touches no state and imports no ledger package;
// the ledger's energy module (app/energy_*.go) and the CLI build on it.
//
// # Energy of a job
//
// Measured where the machine allows it: Linux powercap/RAPL package
// counters (/sys/class/powercap/intel-rapl:N/energy_uj, with wrap-around at
// max_energy_range_uj), see RAPL. Otherwise estimated with the Cloud Carbon
// Footprint coefficient model (average W = minW + utilisation × (maxW − minW)
// per vCPU, × PUE), see CPUFamilies and Estimate. A Receipt carries the
// evidence (counter readings or the model's parameters) and its energy is
// computed from that evidence, so a receipt cannot claim a measurement
// without counter readings.
//
// # Carbon
//
// SCI per the Green Software Foundation's specification (ISO/IEC 21031):
// SCI = (E × I + M) per R, location-based; see ComputeSCI. Market-based
// figures after retiring certificates are reported beside it (MarketBased)
// and never lower the SCI.
//
// # Units
//
// Everything that may reach state is an integer: energy in mWh (receipts)
// or whole Wh (certificates), intensity in mgCO2e/kWh, carbon in µgCO2e.
// Rounding is half up, done once at the end of each formula with exact
// 128-bit intermediates.
//
// # Grid intensity
//
// Zone annual averages are Electricity Maps yearly data (ODbL) extracted from
// @tgwf/co2@0.19.0 into data/zones.json by scripts/fixtures-energy.sh
// --regen and embedded at build time. Hourly series on chain come from oracle
// accounts; for demos and tests SyntheticHourly builds a documented synthetic
// series, always labelled synthetic.
package energy
