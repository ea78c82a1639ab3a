// Package synth generates the demo's public data: seven synthetic Jiangxi
// resources (enterprise registry, tax credit grades, social insurance,
// housing provident fund, real-estate transactions, bus ridership and
// electricity consumption) with realistic shapes — log-normal capital and
// wages, an industry mix by GB/T 4754-2017, population by city roughly as
// in the 2020 census, seasonal electricity, rush-hour ridership peaks,
// valid unified social credit codes and GB 11643 identity numbers.
//
// Every record is fake. Names are drawn from a surname frequency list and
// given-name characters, numbers are minted to pass their check digits,
// and no row describes a real person or firm.
//
// Output is a pure function of (dataset, scale, seed). Determinism is what
// lets the demo, tests and a reviewer regenerate byte-identical data
// instead of shipping gigabytes, and it is what keeps the datasets
// consistent with each other: an entity's attributes are derived from
// (seed, kind, index) by a counter-based generator (a keyed SplitMix64),
// so the employer named in a social insurance row is the registry's
// enterprise of that index, and buyers and insured persons come from one
// person population — all without holding any population in memory.
// Integer draws are exact everywhere; float values pass through math.Exp
// and math.Log, whose last bit may differ between CPU architectures, so
// byte identity is guaranteed for one platform and Go version and only
// overwhelmingly likely across them.
//
// The package owns the catalog of these datasets (Catalog) and the
// streaming CSV writer (WriteCSV). It never registers resources, touches a
// database or reads files; the demo does that with what it returns.
package synth
