package web

import "net/http"

// registerRoutes lists the whole HTTP surface in one place.
func (s *Server) registerRoutes() {
	// Operations.
	s.handle("GET /healthz", s.healthz)
	s.handle("GET /metrics", s.serveMetrics)
	s.handle("GET /static/", http.FileServerFS(staticFiles).ServeHTTP)

	// Public portal and language switch.
	s.handle("GET /{$}", s.portalHome)
	s.handle("GET /lang", s.switchLanguage)
	s.handle("GET /catalog", s.catalogPageHandler)
	s.handle("GET /catalog/{id}", s.catalogItemPage)
	s.handle("GET /registry", s.registryLookupPage)
	s.handle("GET /registry/{code}", s.certificatePage)

	// Console.
	s.handle("GET /login", s.loginPage)
	s.handle("POST /login", s.loginSubmit)
	s.handle("POST /logout", s.page(s.logout))
	s.handle("GET /console", s.page(s.dashboard))
	s.handle("GET /console/orgs", s.page(s.orgsPage))
	s.handle("GET /console/orgs/new", s.page(s.orgNewPage))
	s.handle("POST /console/orgs", s.page(s.orgCreate))
	s.handle("GET /console/users", s.page(s.usersPage))
	s.handle("GET /console/users/new", s.page(s.userNewPage))
	s.handle("POST /console/users", s.page(s.userCreate))
	s.handle("GET /console/tokens", s.page(s.tokensPage))
	s.handle("POST /console/tokens", s.page(s.tokenCreate))
	s.handle("POST /console/tokens/{id}/revoke", s.page(s.tokenRevoke))
	s.handle("GET /console/password", s.page(s.passwordPage))
	s.handle("POST /console/password", s.page(s.passwordSubmit))
	s.handle("GET /console/audit", s.page(s.auditPage))
	s.handle("GET /console/audit/{id}", s.page(s.auditEntryPage))
	s.handle("POST /console/audit/alarms/{id}/acknowledge", s.page(s.alarmAcknowledge))
	s.handle("GET /console/registry", s.page(s.registryPage))
	s.handle("GET /console/registry/new", s.page(s.registryNewPage))
	s.handle("POST /console/registry", s.page(s.registrySubmit))
	s.handle("GET /console/registry/{id}", s.page(s.registryItemPage))
	s.handle("POST /console/registry/{id}/steps", s.page(s.registryStep))
	if s.supply != nil {
		s.handle("GET /console/registry/{id}/data", s.page(s.supplyPage))
		s.handle("POST /console/registry/{id}/data/upload", s.supplyUpload)
		s.handle("POST /console/registry/{id}/data/load", s.page(s.supplyConfirm))
		s.handle("POST /console/registry/{id}/data/tags", s.page(s.supplyTag))
		s.handle("POST /console/registry/{id}/data/unit", s.page(s.supplyUnit))
	}
	if s.quality != nil {
		s.handle("GET /console/registry/{id}/quality", s.page(s.qualityPage))
		s.handle("POST /console/registry/{id}/quality/rules", s.page(s.qualitySetRules))
		s.handle("POST /console/registry/{id}/quality/run", s.page(s.qualityRunNow))
	}

	// JSON API (documented in openapi.json; a test holds the two together).
	s.handle("GET /api/v1/openapi.json", s.openAPI)
	s.handle("GET /api/v1/me", s.api(s.apiMe))
	s.handle("GET /api/v1/regions", s.apiRegions)
	s.handle("GET /api/v1/organizations", s.api(s.apiOrgs))
	s.handle("POST /api/v1/organizations", s.api(s.apiOrgCreate))
	s.handle("GET /api/v1/organizations/{id}", s.api(s.apiOrg))
	s.handle("GET /api/v1/users", s.api(s.apiUsers))
	s.handle("POST /api/v1/users", s.api(s.apiUserCreate))
	s.handle("POST /api/v1/users/{login}/password", s.api(s.apiUserPassword))
	s.handle("GET /api/v1/tokens", s.api(s.apiTokens))
	s.handle("POST /api/v1/tokens", s.api(s.apiTokenCreate))
	s.handle("DELETE /api/v1/tokens/{id}", s.api(s.apiTokenRevoke))
	s.handle("GET /api/v1/audit/entries", s.api(s.apiAuditEntries))
	s.handle("GET /api/v1/audit/entries/{id}/proof", s.api(s.apiAuditEntryProof))
	s.handle("GET /api/v1/audit/checkpoint", s.apiAuditCheckpoint)
	s.handle("GET /api/v1/audit/key", s.apiAuditKey)
	s.handle("GET /api/v1/audit/proof/consistency", s.apiAuditConsistency)
	s.handle("POST /api/v1/audit/alarms/{id}/acknowledge", s.api(s.apiAuditAcknowledge))
	s.handle("GET /api/v1/audit/checkpoints/{size}", s.apiAuditCheckpointAt)
	s.handle("POST /api/v1/audit/checkpoint/cosign", s.api(s.apiAuditCosign))
	s.handle("GET /api/v1/audit/cosigners", s.apiAuditCosigners)
	s.handle("POST /api/v1/audit/cosigners", s.api(s.apiAuditAddCosigner))
	s.handle("GET /api/v1/catalog/search", s.apiCatalogSearch)
	s.handle("GET /api/v1/catalog.jsonld", s.apiCatalogJSONLD)
	s.handle("GET /api/v1/catalog/datasets/{id}", s.apiCatalogDataset)
	s.handle("GET /api/v1/registry/items", s.api(s.apiRegistryItems))
	s.handle("GET /api/v1/registry/items/{id}", s.apiRegistryItem)
	s.handle("GET /api/v1/registry/items/{id}/versions", s.api(s.apiRegistryVersions))
	s.handle("POST /api/v1/registry/items/{id}/steps", s.api(s.apiRegistryStep))
	s.handle("POST /api/v1/registry/items/{id}/changes", s.api(s.apiRegistryChange))
	s.handle("POST /api/v1/registry/items/{id}/corrections", s.api(s.apiRegistryCorrect))
	s.handle("POST /api/v1/registry/resources", s.api(s.apiRegistrySubmitResource))
	s.handle("POST /api/v1/registry/products", s.api(s.apiRegistrySubmitProduct))
	s.handle("GET /api/v1/registry/overlaps", s.api(s.apiRegistryOverlaps))
	s.handle("GET /api/v1/registry/lookup/{code}", s.apiRegistryLookup)
	if s.supply != nil {
		s.handle("POST /api/v1/resources/{id}/previews", s.uploadAPI(s.apiSupplyPreview))
		s.handle("POST /api/v1/resources/{id}/loads", s.uploadAPI(s.apiSupplyLoad))
		s.handle("GET /api/v1/resources/{id}/data-versions", s.apiSupplyVersions)
		s.handle("GET /api/v1/resources/{id}/tags", s.api(s.apiSupplyTags))
		s.handle("POST /api/v1/resources/{id}/tags", s.api(s.apiSupplyConfirmTag))
		s.handle("PUT /api/v1/resources/{id}/privacy-unit", s.api(s.apiSupplyPrivacyUnit))
	}
	if s.quality != nil {
		s.handle("GET /api/v1/resources/{id}/quality", s.apiQualityScore)
		s.handle("GET /api/v1/resources/{id}/quality/rules", s.api(s.apiQualityRules))
		s.handle("PUT /api/v1/resources/{id}/quality/rules", s.api(s.apiQualitySetRules))
		s.handle("POST /api/v1/resources/{id}/quality/runs", s.api(s.apiQualityRun))
		s.handle("GET /api/v1/quality/runs/{id}/samples", s.api(s.apiQualitySamples))
		s.handle("GET /api/v1/quality/departments", s.api(s.apiQualityDepartments))
	}
	s.handle("/api/", s.apiNotFound)
}
