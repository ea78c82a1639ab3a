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
	s.handle("/api/", s.apiNotFound)
}
