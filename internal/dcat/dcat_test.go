package dcat

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sample(i int) Dataset {
	n := strconv.Itoa(i)
	return Dataset{
		IRI:                "https://data.example.gov.cn/resources/R" + n,
		Identifier:         "36000000-R-" + n,
		Title:              "企业登记信息 \"" + n + "\"",
		Description:        "市场监督管理局登记的企业基本信息 <b>&</b>",
		Publisher:          "江西省市场监督管理局",
		PublisherIRI:       "https://data.example.gov.cn/orgs/12",
		Theme:              "市场监管",
		Keywords:           []string{"企业", "登记"},
		Issued:             time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC),
		Modified:           time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC),
		AccrualPeriodicity: "monthly",
		Spatial:            "360000",
		AccessRights:       "authorized",
		ConformsTo:         []string{"https://std.example.gov.cn/GB-T-2260"},
		Columns:            []Column{{Name: "uscc", Title: "统一社会信用代码", Type: "string"}, {Name: "reg_date", Title: "成立日期", Type: "date"}},
		Distributions:      []Distribution{{Title: "资源页", AccessURL: "https://data.example.gov.cn/resources/R" + n, MediaType: "text/html"}},
		LandingPage:        "https://data.example.gov.cn/resources/R" + n,
		Version:            "3",
	}
}

func catalog() Catalog {
	return Catalog{IRI: "https://data.example.gov.cn/catalog", Title: "江西省公共数据资源目录", Description: "授权运营的公共数据资源", Publisher: "江西省数据局", Homepage: "https://data.example.gov.cn/", Modified: time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)}
}

func feed(n int) func() (Dataset, bool, error) {
	i := 0
	return func() (Dataset, bool, error) {
		if i >= n {
			return Dataset{}, false, nil
		}
		i++
		return sample(i), true, nil
	}
}

func TestWriteCatalogGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCatalog(&buf, catalog(), feed(2)); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(buf.Bytes()) {
		t.Fatalf("invalid JSON:\n%s", buf.String())
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, buf.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "catalog.golden.jsonld")
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("catalog differs from %s (run with -update and review the diff):\n%s", golden, pretty.String())
	}
}

func TestWriteDatasetStandalone(t *testing.T) {
	var buf bytes.Buffer
	d := sample(1)
	d.Title = "含\u2028控制\x01字符"
	if err := WriteDataset(&buf, d); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, buf.String())
	}
	if doc["@type"] != "dcat:Dataset" || doc["@context"] == nil {
		t.Errorf("dataset lacks @type or @context: %v", doc)
	}
	if got := doc["dcterms:title"].(map[string]any)["@value"]; got != d.Title {
		t.Errorf("title round trip = %q, want %q", got, d.Title)
	}
}

// expand resolves a compact IRI against the document's own context, as a
// JSON-LD processor would for prefixed terms.
func expand(t *testing.T, ctx map[string]any, term string) string {
	t.Helper()
	prefix, local, ok := strings.Cut(term, ":")
	if !ok {
		t.Fatalf("term %q has no prefix", term)
	}
	ns, ok := ctx[prefix].(string)
	if !ok {
		t.Fatalf("prefix %q not in @context", prefix)
	}
	return ns + local
}

func TestContextResolvesToVocabularies(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCatalog(&buf, catalog(), feed(1)); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	ctx := doc["@context"].(map[string]any)
	ds := doc["dcat:dataset"].([]any)[0].(map[string]any)
	tests := []struct{ term, want string }{
		{doc["@type"].(string), "http://www.w3.org/ns/dcat#Catalog"},
		{ds["@type"].(string), "http://www.w3.org/ns/dcat#Dataset"},
		{"dcat:dataset", "http://www.w3.org/ns/dcat#dataset"},
		{"dcat:distribution", "http://www.w3.org/ns/dcat#distribution"},
		{"dcterms:title", "http://purl.org/dc/terms/title"},
		{"dcterms:accrualPeriodicity", "http://purl.org/dc/terms/accrualPeriodicity"},
		{"foaf:name", "http://xmlns.com/foaf/0.1/name"},
	}
	for _, tc := range tests {
		if got := expand(t, ctx, tc.term); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.term, got, tc.want)
		}
	}
	for _, key := range []string{"dcterms:title", "dcat:distribution", "dcterms:accrualPeriodicity"} {
		if _, ok := ds[key]; !ok {
			t.Errorf("dataset lacks %s", key)
		}
	}
	if got := ds["dcterms:accrualPeriodicity"].(map[string]any)["@id"]; got != euFreq+"MONTHLY" {
		t.Errorf("monthly maps to %v", got)
	}
}

func TestWriteCatalogStreamsInFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 200,000 datasets")
	}
	const n = 200_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := WriteCatalog(io.Discard, catalog(), feed(n)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	// HeapAlloc after the run (without a GC) holds what the writer kept plus
	// garbage not yet collected; a writer that buffered the catalog would hold
	// hundreds of MB here.
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if grown > 64<<20 {
		t.Errorf("heap grew by %d MB streaming %d datasets", grown>>20, n)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if live := int64(after.HeapAlloc) - int64(before.HeapAlloc); live > 4<<20 {
		t.Errorf("live heap grew by %d KB after streaming", live>>10)
	}
}
