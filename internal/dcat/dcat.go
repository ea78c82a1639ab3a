// Package dcat owns the public catalog's DCAT 3 export as JSON-LD: one
// catalog document streamed dataset by dataset, or one dataset on its own.
// It describes data and never carries it: distributions point at the
// platform's resource pages, not at downloads of raw data. It reads nothing
// from the store; callers feed it Datasets.
package dcat

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Vocabulary IRIs the context binds.
const (
	NSDCAT    = "http://www.w3.org/ns/dcat#"
	NSDCTerms = "http://purl.org/dc/terms/"
	NSFOAF    = "http://xmlns.com/foaf/0.1/"
	NSVCard   = "http://www.w3.org/2006/vcard/ns#"
	NSXSD     = "http://www.w3.org/2001/XMLSchema#"
	NSCSVW    = "http://www.w3.org/ns/csvw#"
	NSSKOS    = "http://www.w3.org/2004/02/skos/core#"
)

// Catalog describes the platform's catalog itself.
type Catalog struct {
	IRI, Title, Description, Publisher, Homepage string
	Modified                                     time.Time
}

// Column is one data item of a resource, described but never shown.
type Column struct{ Name, Title, Type string }

// Distribution is a way to reach the resource: always the platform's page.
type Distribution struct{ Title, AccessURL, MediaType string }

// Dataset is one registered public data resource.
type Dataset struct {
	IRI, Identifier, Title, Description string
	Publisher, PublisherIRI             string
	Theme                               string
	Keywords                            []string
	Issued, Modified                    time.Time
	// AccrualPeriodicity is a frequency code (daily, weekly, monthly,
	// quarterly, annual, realtime, irregular …) mapped to the EU vocabulary.
	AccrualPeriodicity string
	// Spatial is a GB/T 2260 administrative division code.
	Spatial string
	// AccessRights is open, authorized (授权运营) or conditional (依申请).
	AccessRights  string
	ConformsTo    []string
	Columns       []Column
	Distributions []Distribution
	LandingPage   string
	Version       string
}

const euFreq = "http://publications.europa.eu/resource/authority/frequency/"

var frequencies = map[string]string{
	"realtime": "CONT", "continuous": "CONT", "hourly": "HOURLY",
	"daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY",
	"quarterly": "QUARTERLY", "semiannual": "ANNUAL_2", "annual": "ANNUAL",
	"yearly": "ANNUAL", "irregular": "IRREG", "never": "NEVER", "once": "NEVER",
}

// FrequencyIRI maps a frequency code to the EU frequency vocabulary, or ""
// when the code is unknown.
func FrequencyIRI(code string) string {
	if f, ok := frequencies[code]; ok {
		return euFreq + f
	}
	return ""
}

const euAccess = "http://publications.europa.eu/resource/authority/access-right/"

// accessRightsIRI maps the platform's access codes to the EU access-right
// vocabulary: authorized operation is restricted, on application non-public.
func accessRightsIRI(code string) string {
	switch code {
	case "open", "public":
		return euAccess + "PUBLIC"
	case "authorized", "authorized_operation":
		return euAccess + "RESTRICTED"
	case "conditional", "on_application":
		return euAccess + "NON_PUBLIC"
	}
	return ""
}

// SpatialIRI is the IRI a GB/T 2260 code is published under.
func SpatialIRI(code string) string { return "urn:gbt2260:" + code }

const contextJSON = `{"dcat":"` + NSDCAT + `","dcterms":"` + NSDCTerms + `","foaf":"` + NSFOAF +
	`","vcard":"` + NSVCard + `","xsd":"` + NSXSD + `","csvw":"` + NSCSVW + `","skos":"` + NSSKOS + `"}`

// WriteCatalog writes one JSON-LD catalog document, pulling datasets from
// next one at a time until it reports false, so memory stays flat whatever
// the catalog's size.
func WriteCatalog(w io.Writer, c Catalog, next func() (Dataset, bool, error)) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	o := &obj{w: bw}
	bw.WriteString(`{"@context":` + contextJSON)
	o.first = false
	o.str("@id", c.IRI)
	o.str("@type", "dcat:Catalog")
	o.str("dcterms:title", c.Title)
	o.str("dcterms:description", c.Description)
	if c.Publisher != "" {
		o.raw("dcterms:publisher", func() { pubObj(o, c.Publisher, "") })
	}
	if c.Homepage != "" {
		o.raw("foaf:homepage", func() { idObj(o, c.Homepage) })
	}
	o.date("dcterms:modified", c.Modified)
	bw.WriteString(`,"dcat:dataset":[`)
	for i := 0; ; i++ {
		d, ok, err := next()
		if err != nil {
			return fmt.Errorf("dcat catalog: dataset %d: %w", i, err)
		}
		if !ok {
			break
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		writeDataset(o, d, false)
		if o.err != nil {
			return fmt.Errorf("dcat catalog: %w", o.err)
		}
	}
	bw.WriteString("]}\n")
	if o.err != nil {
		return fmt.Errorf("dcat catalog: %w", o.err)
	}
	return bw.Flush()
}

// WriteDataset writes one resource as a standalone JSON-LD document.
func WriteDataset(w io.Writer, d Dataset) error {
	bw := bufio.NewWriter(w)
	o := &obj{w: bw}
	writeDataset(o, d, true)
	bw.WriteByte('\n')
	if o.err != nil {
		return fmt.Errorf("dcat dataset %q: %w", d.Identifier, o.err)
	}
	return bw.Flush()
}

func writeDataset(o *obj, d Dataset, withContext bool) {
	o.open()
	if withContext {
		o.key("@context")
		o.w.WriteString(contextJSON)
	}
	o.str("@id", d.IRI)
	o.str("@type", "dcat:Dataset")
	o.str("dcterms:identifier", d.Identifier)
	o.lang("dcterms:title", d.Title)
	o.lang("dcterms:description", d.Description)
	if d.Publisher != "" || d.PublisherIRI != "" {
		o.raw("dcterms:publisher", func() { pubObj(o, d.Publisher, d.PublisherIRI) })
	}
	if d.Theme != "" {
		o.raw("dcat:theme", func() { o.open(); o.str("@type", "skos:Concept"); o.str("skos:prefLabel", d.Theme); o.close() })
	}
	if len(d.Keywords) > 0 {
		o.raw("dcat:keyword", func() {
			o.w.WriteByte('[')
			for i, k := range d.Keywords {
				if i > 0 {
					o.w.WriteByte(',')
				}
				o.open()
				o.str("@value", k)
				o.str("@language", "zh-CN")
				o.close()
			}
			o.w.WriteByte(']')
		})
	}
	o.date("dcterms:issued", d.Issued)
	o.date("dcterms:modified", d.Modified)
	if iri := FrequencyIRI(d.AccrualPeriodicity); iri != "" {
		o.raw("dcterms:accrualPeriodicity", func() { idObj(o, iri) })
	}
	if d.Spatial != "" {
		o.raw("dcterms:spatial", func() { idObj(o, SpatialIRI(d.Spatial)) })
	}
	if iri := accessRightsIRI(d.AccessRights); iri != "" {
		o.raw("dcterms:accessRights", func() { idObj(o, iri) })
	}
	if len(d.ConformsTo) > 0 {
		o.raw("dcterms:conformsTo", func() {
			o.w.WriteByte('[')
			for i, c := range d.ConformsTo {
				if i > 0 {
					o.w.WriteByte(',')
				}
				idObj(o, c)
			}
			o.w.WriteByte(']')
		})
	}
	if d.LandingPage != "" {
		o.raw("dcat:landingPage", func() { idObj(o, d.LandingPage) })
	}
	o.str("dcat:version", d.Version)
	if len(d.Columns) > 0 {
		// The table's shape, as a CSVW schema: names and types only.
		o.raw("csvw:tableSchema", func() {
			o.open()
			o.raw("csvw:column", func() {
				o.w.WriteByte('[')
				for i, c := range d.Columns {
					if i > 0 {
						o.w.WriteByte(',')
					}
					o.open()
					o.str("csvw:name", c.Name)
					o.str("csvw:title", c.Title)
					o.str("csvw:datatype", c.Type)
					o.close()
				}
				o.w.WriteByte(']')
			})
			o.close()
		})
	}
	if len(d.Distributions) > 0 {
		o.raw("dcat:distribution", func() {
			o.w.WriteByte('[')
			for i, x := range d.Distributions {
				if i > 0 {
					o.w.WriteByte(',')
				}
				o.open()
				o.str("@type", "dcat:Distribution")
				o.str("dcterms:title", x.Title)
				if x.AccessURL != "" {
					o.raw("dcat:accessURL", func() { idObj(o, x.AccessURL) })
				}
				o.str("dcat:mediaType", x.MediaType)
				o.close()
			}
			o.w.WriteByte(']')
		})
	}
	o.close()
}

func pubObj(o *obj, name, iri string) {
	o.open()
	o.str("@id", iri)
	o.str("@type", "foaf:Agent")
	o.str("foaf:name", name)
	o.close()
}

func idObj(o *obj, iri string) {
	o.open()
	o.str("@id", iri)
	o.close()
}

// obj writes JSON object members, escaping every string with encoding/json.
type obj struct {
	w     *bufio.Writer
	first bool
	stack []bool
	err   error
}

func (o *obj) open() {
	o.w.WriteByte('{')
	o.stack = append(o.stack, o.first)
	o.first = true
}

func (o *obj) close() {
	o.w.WriteByte('}')
	// The enclosing object now has at least this member.
	o.stack = o.stack[:len(o.stack)-1]
	o.first = false
}

func (o *obj) key(k string) {
	if !o.first {
		o.w.WriteByte(',')
	}
	o.first = false
	o.quote(k)
	o.w.WriteByte(':')
}

func (o *obj) quote(s string) {
	b, err := json.Marshal(s)
	if err != nil && o.err == nil {
		o.err = err
	}
	o.w.Write(b)
}

// str writes a string member, leaving out empty values.
func (o *obj) str(k, v string) {
	if v == "" {
		return
	}
	o.key(k)
	o.quote(v)
}

func (o *obj) lang(k, v string) {
	if v == "" {
		return
	}
	o.raw(k, func() { o.open(); o.str("@value", v); o.str("@language", "zh-CN"); o.close() })
}

func (o *obj) date(k string, t time.Time) {
	if t.IsZero() {
		return
	}
	o.raw(k, func() {
		o.open()
		o.str("@value", t.UTC().Format(time.RFC3339))
		o.str("@type", "xsd:dateTime")
		o.close()
	})
}

func (o *obj) raw(k string, fn func()) {
	o.key(k)
	fn()
}
