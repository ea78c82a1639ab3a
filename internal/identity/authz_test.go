package identity

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gongshu/gongshu/internal/region"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The role × action matrix, by region: for every role (as a member of a
// provincial or a Nanchang organisation) and every action, on an object of
// the caller's own organisation and user, of another organisation in the
// caller's own region, of the region above the caller's (parent), of a
// region below it (child), and of another region at the caller's level
// (another province for a provincial body, another city for a city body).
// "·" marks a column that does not exist for the subject (a province has no
// parent). The golden file is the reviewed policy; a change to Authorize
// shows up as a diff of it. (R3.1, R4.1)
func TestAuthorizeMatrix(t *testing.T) {
	regions := region.Default()
	type subject struct {
		name string
		p    Principal
		// parent, child and other are regions relative to the subject's.
		parent, child, other string
	}
	var subjects []subject
	for _, r := range Roles {
		subjects = append(subjects,
			subject{fmt.Sprintf("%s@%s", r, "360000"), Principal{UserID: 10, Login: "u", OrgID: 1, Region: "360000", Roles: []Role{r}}, "", "360100", "430000"},
			subject{fmt.Sprintf("%s@%s", r, "360100"), Principal{UserID: 10, Login: "u", OrgID: 1, Region: "360100", Roles: []Role{r}}, "360000", "360102", "360700"})
	}
	var b strings.Builder
	b.WriteString("# role@region action: none own same-region parent child other (+ allowed, - refused, · no such region)\n")
	for _, s := range subjects {
		objects := []*Object{
			{},
			{OrgID: 1, UserID: 10, Region: s.p.Region},
			{OrgID: 2, UserID: 20, Region: s.p.Region},
			nil,
			{OrgID: 4, UserID: 40, Region: s.child},
			{OrgID: 5, UserID: 50, Region: s.other},
		}
		if s.parent != "" {
			objects[3] = &Object{OrgID: 3, UserID: 30, Region: s.parent}
		}
		for _, a := range Actions {
			fmt.Fprintf(&b, "%-22s %-22s", s.name, a)
			for _, o := range objects {
				mark := "·"
				if o != nil {
					mark = "+"
					if Authorize(regions, s.p, a, *o) != nil {
						mark = "-"
					}
				}
				fmt.Fprintf(&b, " %s", mark)
			}
			b.WriteString("\n")
		}
	}
	// An anonymous caller is refused everything.
	for _, a := range Actions {
		if err := Authorize(regions, Principal{}, a, Object{}); err == nil {
			t.Errorf("anonymous may %s", a)
		}
	}
	golden := filepath.Join("testdata", "authz_matrix.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update once and review the file)", err)
	}
	if string(want) != b.String() {
		t.Errorf("authorization matrix changed; review with go test -update and git diff:\n%s", diffLines(string(want), b.String()))
	}
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "- "+x, "+ "+y)
		}
	}
	return strings.Join(out, "\n")
}

// Spot checks that state the policy in words, beside the golden matrix.
func TestAuthorizeRules(t *testing.T) {
	regions := region.Default()
	prov := Principal{UserID: 1, OrgID: 1, Region: "360000", Roles: []Role{RoleAuthority}}
	city := Principal{UserID: 2, OrgID: 2, Region: "360100", Roles: []Role{RoleAuthority}}
	op := Principal{UserID: 3, OrgID: 3, Region: "360100", Roles: []Role{RoleOperator}}
	cases := []struct {
		name string
		p    Principal
		a    Action
		o    Object
		ok   bool
	}{
		{"provincial authority registers a Ganzhou body", prov, ActOrgCreate, Object{Region: "360702"}, true},
		{"Nanchang authority registers a Nanchang county body", city, ActOrgCreate, Object{Region: "360124"}, true},
		{"Nanchang authority may not register a Ganzhou body", city, ActOrgCreate, Object{Region: "360702"}, false},
		{"Nanchang authority may not register a provincial body", city, ActOrgCreate, Object{Region: "360000"}, false},
		{"operator may not register bodies", op, ActOrgCreate, Object{Region: "360100"}, false},
		{"operator reads its own org's audit", op, ActAuditRead, Object{OrgID: 3}, true},
		{"operator may not read another org's audit", op, ActAuditRead, Object{OrgID: 4}, false},
		{"operator manages its own tokens", op, ActTokenManage, Object{UserID: 3}, true},
		{"operator may not manage another's tokens", op, ActTokenManage, Object{UserID: 4}, false},
		{"authority reads the whole audit log", prov, ActAuditReadAll, Object{}, true},
		// R9.1, R11.1: filings go to the provincial authority.
		{"provincial authority acknowledges a Nanchang plan filing", prov, ActPlanAckFiling, Object{Region: "360100"}, true},
		{"provincial authority acknowledges a provincial agreement filing", prov, ActAgreementAckFiling, Object{Region: "360000"}, true},
		{"Nanchang authority may not acknowledge filings", city, ActPlanAckFiling, Object{Region: "360124"}, false},
		// R4.1: each region runs its own authorizations.
		{"Nanchang authority drafts a Nanchang plan", city, ActPlanDraft, Object{Region: "360100"}, true},
		{"provincial authority may not draft a Nanchang plan", prov, ActPlanDraft, Object{Region: "360100"}, false},
		{"an operator may not record a plan decision", Principal{UserID: 7, OrgID: 7, Region: "360000", Roles: []Role{RoleOperator}}, ActPlanDecide, Object{Region: "360000"}, false},
		// R11.1: the operator signs its own agreement only.
		{"operator signs its own agreement", op, ActAgreementSign, Object{OrgID: 3, Region: "360100"}, true},
		{"operator may not sign another's agreement", op, ActAgreementSign, Object{OrgID: 4, Region: "360100"}, false},
		{"operator may not suspend", op, ActAgreementSuspend, Object{OrgID: 3, Region: "360100"}, false},
	}
	for _, c := range cases {
		err := Authorize(regions, c.p, c.a, c.o)
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
}
