package policy

import "strings"

// The allowed functions. Everything not named here is refused: the lists
// are the policy, and widening them is a reviewed change. Each entry exists
// in both DuckDB and PostgreSQL with the same meaning.

// scalarFunctions are row-level functions whose result derives only from
// their arguments (so the result's capability is the intersection of the
// arguments'): arithmetic, text, date parts, conditionals.
var scalarFunctions = map[string]bool{
	// numbers
	"abs": true, "round": true, "floor": true, "ceil": true, "ceiling": true, "sign": true,
	"sqrt": true, "mod": true, "ln": true, "trunc": true,
	// text
	"lower": true, "upper": true, "length": true, "char_length": true, "character_length": true,
	"substr": true, "substring": true, "btrim": true, "ltrim": true, "rtrim": true, "trim": true,
	"replace": true, "concat": true, "left": true, "right": true, "lpad": true, "rpad": true,
	"strpos": true, "position": true,
	// dates
	"date_trunc": true, "date_part": true, "extract": true, "age": true,
}

// Aggregate function bits: an aggset says which aggregates a value may be
// the argument of.
type aggset uint8

const (
	aggCount aggset = 1 << iota
	aggSum
	aggAvg
	aggStddev
	aggVariance
	aggMin
	aggMax
	aggAll = aggCount | aggSum | aggAvg | aggStddev | aggVariance | aggMin | aggMax
)

// aggregateFunctions maps allowed aggregate names to their bit.
var aggregateFunctions = map[string]aggset{
	"count": aggCount, "sum": aggSum, "avg": aggAvg,
	"stddev": aggStddev, "stddev_samp": aggStddev, "stddev_pop": aggStddev,
	"variance": aggVariance, "var_samp": aggVariance, "var_pop": aggVariance,
	"min": aggMin, "max": aggMax,
}

// valueAggregates return one row's value (or all of them), so a group of k
// units still releases a unit's raw value: refused whatever the column, and
// MIN/MAX on protected columns.
var valueAggregates = map[string]bool{
	"min": true, "max": true, "any_value": true, "arbitrary": true, "first": true, "last": true,
	"string_agg": true, "array_agg": true, "list": true, "group_concat": true, "listagg": true,
	"mode": true, "median": true, "quantile": true, "quantile_cont": true, "quantile_disc": true,
	"percentile_cont": true, "percentile_disc": true, "approx_quantile": true, "reservoir_quantile": true,
	"arg_min": true, "arg_max": true, "argmin": true, "argmax": true, "min_by": true, "max_by": true,
	"histogram": true, "json_agg": true, "jsonb_agg": true, "json_object_agg": true,
	"jsonb_object_agg": true, "xmlagg": true, "bit_and": true, "bit_or": true, "bool_and": true,
	"bool_or": true, "every": true, "list_agg": true, "array_agg_distinct": true, "bitstring_agg": true,
}

// tableFunctions read files, the network, catalogs or generate rows; named
// so that the refusal says what they are even when called as a scalar.
var tableFunctions = map[string]bool{
	"read_csv": true, "read_csv_auto": true, "read_parquet": true, "read_json": true,
	"read_json_auto": true, "read_ndjson": true, "read_ndjson_auto": true, "read_text": true,
	"read_blob": true, "read_xlsx": true, "glob": true, "parquet_scan": true, "parquet_metadata": true,
	"parquet_schema": true, "parquet_file_metadata": true, "parquet_kv_metadata": true, "sniff_csv": true,
	"csv_scan": true, "generate_series": true, "range": true, "unnest": true, "json_each": true,
	"json_tree": true, "query": true, "query_table": true, "iceberg_scan": true, "delta_scan": true,
	"sqlite_scan": true, "postgres_scan": true, "postgres_query": true, "mysql_scan": true,
	"pg_read_file": true, "pg_read_binary_file": true, "pg_ls_dir": true, "pg_stat_file": true,
	"lo_import": true, "lo_export": true, "dblink": true, "getenv": true, "current_setting": true,
	"set_config": true, "pragma_table_info": true, "pragma_storage_info": true, "which_secret": true,
}

func isTableFunction(name string) bool {
	return tableFunctions[name] || strings.HasPrefix(name, "duckdb_") || strings.HasPrefix(name, "read_") ||
		strings.HasPrefix(name, "pg_") || strings.HasPrefix(name, "pragma_")
}

// systemSchemas and system prefixes are catalogs of the engines.
var systemSchemas = map[string]bool{"information_schema": true, "pg_catalog": true, "pg_toast": true,
	"system": true, "temp": true, "main": false}

func isSystemRelation(schema, name string) bool {
	if systemSchemas[schema] {
		return true
	}
	for _, p := range []string{"duckdb_", "pg_", "sqlite_", "information_schema"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// allowedCastTypes are the basic types a value may be cast to; a cast never
// changes a value's capability, but some types (regclass, json, blob) reach
// catalogs or change meaning.
var allowedCastTypes = map[string]bool{
	"int": true, "int2": true, "int4": true, "int8": true, "integer": true, "smallint": true,
	"bigint": true, "numeric": true, "decimal": true, "float4": true, "float8": true, "real": true,
	"double": true, "text": true, "varchar": true, "bpchar": true, "char": true, "date": true,
	"timestamp": true, "timestamptz": true, "bool": true, "boolean": true,
}

// windowFunctions may be used over released values, and in an aggregate
// query over its aggregates (see analyzer.window).
var windowFunctions = map[string]bool{"row_number": true, "rank": true, "dense_rank": true, "percent_rank": true,
	"cume_dist": true, "ntile": true, "lag": true, "lead": true, "first_value": true, "last_value": true, "nth_value": true}

// textFunctions return text.
var textFunctions = map[string]bool{"lower": true, "upper": true, "substr": true, "substring": true, "btrim": true,
	"ltrim": true, "rtrim": true, "trim": true, "replace": true, "concat": true, "left": true, "right": true,
	"lpad": true, "rpad": true}

// textCastTypes hold text: a cast to one of them never fails.
var textCastTypes = map[string]bool{"text": true, "varchar": true, "bpchar": true, "char": true}

// narrowCastTypes can overflow when a wider number is cast to them.
var narrowCastTypes = map[string]bool{"int": true, "int2": true, "int4": true, "integer": true, "smallint": true,
	"float4": true, "real": true}

// numericCastTypes are the casts that keep a number's value (up to
// rounding): a protected value cast to one of them is still itself.
var numericCastTypes = map[string]bool{
	"int": true, "int2": true, "int4": true, "int8": true, "integer": true, "smallint": true,
	"bigint": true, "numeric": true, "decimal": true, "float4": true, "float8": true, "real": true, "double": true,
}

// operators are the allowed binary and unary operators (names as the
// parser reports them: LIKE is ~~, NOT ILIKE is !~~*).
var (
	arithmeticOps = map[string]bool{"+": true, "-": true, "*": true, "/": true, "%": true, "||": true}
	comparisonOps = map[string]bool{"=": true, "<>": true, "!=": true, "<": true, ">": true, "<=": true,
		">=": true, "~~": true, "!~~": true, "~~*": true, "!~~*": true}
)

// AllowedFunctions lists the allowed scalar and aggregate function names,
// for the workspace's documentation panel.
func AllowedFunctions() (scalar, aggregate []string) {
	for f := range scalarFunctions {
		scalar = append(scalar, f)
	}
	for f := range aggregateFunctions {
		aggregate = append(aggregate, f)
	}
	return sortStrings(scalar), sortStrings(aggregate)
}

func sortStrings(s []string) []string {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return sortedKeys(m)
}
