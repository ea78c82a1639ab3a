package registry

import (
	"strings"
	"unicode/utf8"

	"github.com/gongshu/gongshu/internal/apperr"
)

// Domains are the sectors a resource belongs to; the catalog facets by them.
var Domains = []string{"market", "tax", "social_security", "housing_fund", "real_estate", "transport",
	"health", "education", "utilities", "agriculture", "environment", "culture_tourism", "other"}

// Grades follow GB/T 43697-2024: core, important, and general in four
// levels (4 highest). Core data never enters authorized operation.
var Grades = []string{"core", "important", "general-4", "general-3", "general-2", "general-1"}

// Frequencies are how often a resource is updated.
var Frequencies = []string{"realtime", "daily", "weekly", "monthly", "quarterly", "yearly", "irregular", "once"}

// AccessMethods say how a resource may be used.
var AccessMethods = []string{"open", "authorized", "application"}

// StorageMethods say how the holder keeps the data.
var StorageMethods = []string{"database", "file", "api", "platform"}

// ProductTypes are the kinds of products and services (R3.1, R13.1).
var ProductTypes = []string{"dataset", "model", "report", "solution", "api", "other"}

// ResourceForm is what a department (or the agency on its behalf) submits
// to register a public data resource.
type ResourceForm struct {
	Name                  string      `json:"name"`
	Description           string      `json:"description"`
	HolderOrgID           int64       `json:"holder_org_id"`
	Domain                string      `json:"domain"`
	Classification        string      `json:"classification"`
	Grade                 string      `json:"grade"`
	PersonalInfo          bool        `json:"personal_info"`
	SensitivePersonalInfo bool        `json:"sensitive_personal_info"`
	Frequency             string      `json:"frequency"`
	SourceSystem          string      `json:"source_system"`
	LegalBasis            string      `json:"legal_basis"`
	SharedOrigin          *SharedFrom `json:"shared_origin,omitempty"`
	Standards             []string    `json:"standards,omitempty"`
	StorageLocation       string      `json:"storage_location"`
	StorageMethod         string      `json:"storage_method"`
	AccessMethod          string      `json:"access_method"`
	Items                 []DataItem  `json:"items,omitempty"`
}

// SharedFrom records data obtained through government data sharing
// (R5.3): the providing unit and its recorded consent.
type SharedFrom struct {
	ProviderName   string `json:"provider_name"`
	ProviderRegion string `json:"provider_region"`
	ConsentRef     string `json:"consent_ref"`
}

// DataItem is one declared data item (column) with its standard.
type DataItem struct {
	Name     string `json:"name"`
	Label    string `json:"label,omitempty"`
	Standard string `json:"standard,omitempty"`
}

// ProductForm is what an operator submits to register a product or service.
type ProductForm struct {
	Name         string  `json:"name"`
	Description  string  `json:"description"`
	Type         string  `json:"type"`
	ResourceIDs  []int64 `json:"resource_ids"`
	AgreementRef string  `json:"agreement_ref"`
	// PriceFen is the price in fen (0.01 yuan); PricingBasis says how it
	// follows national price policy (R13.2).
	PriceFen     int64  `json:"price_fen"`
	PriceUnit    string `json:"price_unit"`
	PricingBasis string `json:"pricing_basis"`
}

// label refers to a field's name in the catalogs ("registry.field.name").
func label(field string) string {
	return "@registry.field." + strings.ReplaceAll(field, ".", "_")
}

func oneOf(v string, set []string) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}

// text checks a free-text field's length in characters.
func text(field, v string, min, max int) error {
	n := utf8.RuneCountInString(strings.TrimSpace(v))
	switch {
	case n == 0 && min > 0:
		return apperr.New(apperr.Invalid, "registry.field_required", "field", label(field)).OnField(field)
	case n < min || n > max:
		return apperr.New(apperr.Invalid, "registry.field_length", "field", label(field), "min", itoa(min), "max", itoa(max)).OnField(field)
	}
	return nil
}

func choice(field, v string, set []string) error {
	if v == "" {
		return apperr.New(apperr.Invalid, "registry.field_required", "field", label(field)).OnField(field)
	}
	if !oneOf(v, set) {
		return apperr.New(apperr.Invalid, "registry.field_choice", "field", label(field), "value", v, "allowed", strings.Join(set, ", ")).OnField(field)
	}
	return nil
}

// Validate checks every field rule of a resource registration, in form
// order, and returns the first failure.
func (f *ResourceForm) Validate() error {
	f.trim()
	checks := []func() error{
		func() error { return text("name", f.Name, 2, 100) },
		func() error { return text("description", f.Description, 10, 2000) },
		func() error {
			if f.HolderOrgID <= 0 {
				return apperr.New(apperr.Invalid, "registry.field_required", "field", label("holder_org_id")).OnField("holder_org_id")
			}
			return nil
		},
		func() error { return choice("domain", f.Domain, Domains) },
		func() error { return text("classification", f.Classification, 2, 100) },
		func() error { return choice("grade", f.Grade, Grades) },
		func() error { return choice("frequency", f.Frequency, Frequencies) },
		func() error { return text("source_system", f.SourceSystem, 2, 200) },
		func() error { return text("legal_basis", f.LegalBasis, 4, 1000) },
		func() error { return text("storage_location", f.StorageLocation, 2, 200) },
		func() error { return choice("storage_method", f.StorageMethod, StorageMethods) },
		func() error { return choice("access_method", f.AccessMethod, AccessMethods) },
		func() error {
			// 核心 data never enters authorized operation, nor open access.
			if f.Grade == "core" && f.AccessMethod != "application" {
				return apperr.New(apperr.Invalid, "registry.core_not_operable").OnField("access_method")
			}
			if f.SensitivePersonalInfo && !f.PersonalInfo {
				return apperr.New(apperr.Invalid, "registry.sensitive_needs_personal").OnField("personal_info")
			}
			if f.PersonalInfo && f.AccessMethod == "open" {
				return apperr.New(apperr.Invalid, "registry.personal_not_open").OnField("access_method")
			}
			return nil
		},
		func() error {
			// R5.3: shared data only with the provider's recorded consent.
			if s := f.SharedOrigin; s != nil {
				if err := text("shared_origin.provider_name", s.ProviderName, 2, 100); err != nil {
					return err
				}
				if strings.TrimSpace(s.ConsentRef) == "" {
					return apperr.New(apperr.Invalid, "registry.shared_needs_consent").OnField("shared_origin.consent_ref")
				}
			}
			return nil
		},
		func() error {
			if len(f.Standards) > 20 {
				return apperr.New(apperr.Invalid, "registry.too_many", "field", label("standards"), "max", "20").OnField("standards")
			}
			for _, s := range f.Standards {
				if err := text("standards", s, 2, 64); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			if len(f.Items) > 500 {
				return apperr.New(apperr.Invalid, "registry.too_many", "field", label("items"), "max", "500").OnField("items")
			}
			seen := map[string]bool{}
			for _, it := range f.Items {
				if err := text("items.name", it.Name, 1, 64); err != nil {
					return err
				}
				k := strings.ToLower(it.Name)
				if seen[k] {
					return apperr.New(apperr.Invalid, "registry.item_duplicate", "name", it.Name).OnField("items")
				}
				seen[k] = true
			}
			return nil
		},
	}
	for _, c := range checks {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

func (f *ResourceForm) trim() {
	for _, p := range []*string{&f.Name, &f.Description, &f.Domain, &f.Classification, &f.Grade, &f.Frequency,
		&f.SourceSystem, &f.LegalBasis, &f.StorageLocation, &f.StorageMethod, &f.AccessMethod} {
		*p = strings.TrimSpace(*p)
	}
	for i := range f.Items {
		f.Items[i].Name = strings.TrimSpace(f.Items[i].Name)
		f.Items[i].Label = strings.TrimSpace(f.Items[i].Label)
		f.Items[i].Standard = strings.TrimSpace(f.Items[i].Standard)
	}
}

// Validate checks every field rule of a product registration.
func (f *ProductForm) Validate() error {
	f.Name, f.Description, f.Type = strings.TrimSpace(f.Name), strings.TrimSpace(f.Description), strings.TrimSpace(f.Type)
	if err := text("name", f.Name, 2, 100); err != nil {
		return err
	}
	if err := text("description", f.Description, 10, 2000); err != nil {
		return err
	}
	if err := choice("type", f.Type, ProductTypes); err != nil {
		return err
	}
	if len(f.ResourceIDs) == 0 {
		return apperr.New(apperr.Invalid, "registry.product_needs_resources").OnField("resource_ids")
	}
	if len(f.ResourceIDs) > 50 {
		return apperr.New(apperr.Invalid, "registry.too_many", "field", label("resource_ids"), "max", "50").OnField("resource_ids")
	}
	if err := text("agreement_ref", f.AgreementRef, 2, 64); err != nil {
		return err
	}
	if f.PriceFen < 0 {
		return apperr.New(apperr.Invalid, "registry.price_negative").OnField("price_fen")
	}
	if err := text("price_unit", f.PriceUnit, 1, 32); err != nil {
		return err
	}
	// R13.2: the price says how it follows national price policy.
	return text("pricing_basis", f.PricingBasis, 4, 1000)
}
