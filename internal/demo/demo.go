// Package demo seeds a fresh platform with a realistic Jiangxi cast: the
// provincial data authority, government and big-data centre, eight
// departments, three licensed operators, Nanchang's authority and agency, a
// power utility, a data user and a regulator, each with a user and an API
// token. It writes what it created to demo-credentials.json so scripts and
// later checks can log in. It is only ever run by `gongshu demo` and tests.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gongshu/gongshu/internal/identity"
)

// CredentialsFile is written into the data directory.
const CredentialsFile = "demo-credentials.json"

// Account is one demo user as the credentials file lists it.
type Account struct {
	Login        string   `json:"login"`
	Password     string   `json:"password"`
	Name         string   `json:"name"`
	Role         string   `json:"role"`
	Roles        []string `json:"roles"`
	Organization string   `json:"organization"`
	OrgID        int64    `json:"org_id"`
	OrgType      string   `json:"org_type"`
	Region       string   `json:"region"`
	Token        string   `json:"token"`
}

// Credentials is the content of demo-credentials.json.
type Credentials struct {
	URL      string    `json:"url,omitempty"`
	Accounts []Account `json:"accounts"`
}

type orgSpec struct {
	key        string
	typ        identity.OrgType
	name, en   string
	region     string
	creditKind [2]byte // registration authority and category: 1 1 for organs, 9 1 for companies
	body       string  // organisation code body (8 characters)
	users      []userSpec
}

type userSpec struct {
	login, name string
	roles       []identity.Role
}

func roles(r ...identity.Role) []identity.Role { return r }

// cast is the demo's organisations in creation order (parents first).
var cast = []orgSpec{
	{"authority", identity.OrgAuthority, "江西省发展和改革委员会（江西省数据局）", "Jiangxi Development and Reform Commission (Jiangxi Data Administration)", "360000", [2]byte{'1', '1'}, "01445723",
		[]userSpec{{"authority", "刘主任", roles(identity.RoleAuthority)}}},
	{"government", identity.OrgGovernment, "江西省人民政府", "People's Government of Jiangxi Province", "360000", [2]byte{'1', '1'}, "01445001",
		[]userSpec{{"government", "陈秘书", roles(identity.RoleGovernment)}}},
	{"agency", identity.OrgAgency, "江西省大数据中心", "Jiangxi Big Data Center", "360000", [2]byte{'1', '2'}, "49125863",
		[]userSpec{{"agency", "王工程师", roles(identity.RoleAgency)}, {"admin", "平台管理员", roles(identity.RoleAdmin, identity.RoleAgency)}}},
	{"amr", identity.OrgDepartment, "江西省市场监督管理局", "Jiangxi Administration for Market Regulation", "360000", [2]byte{'1', '1'}, "01445811",
		[]userSpec{{"dept.amr", "赵科长", roles(identity.RoleDepartment)}}},
	{"tax", identity.OrgDepartment, "国家税务总局江西省税务局", "Jiangxi Provincial Tax Service, STA", "360000", [2]byte{'1', '1'}, "01445902",
		[]userSpec{{"dept.tax", "钱科长", roles(identity.RoleDepartment)}}},
	{"hrss", identity.OrgDepartment, "江西省人力资源和社会保障厅", "Jiangxi Department of Human Resources and Social Security", "360000", [2]byte{'1', '1'}, "01445635",
		[]userSpec{{"dept.hrss", "孙科长", roles(identity.RoleDepartment)}}},
	{"hpf", identity.OrgDepartment, "江西省住房公积金管理中心", "Jiangxi Housing Provident Fund Management Center", "360000", [2]byte{'1', '2'}, "49126014",
		[]userSpec{{"dept.hpf", "李科长", roles(identity.RoleDepartment)}}},
	{"nr", identity.OrgDepartment, "江西省自然资源厅", "Jiangxi Department of Natural Resources", "360000", [2]byte{'1', '1'}, "01445740",
		[]userSpec{{"dept.nr", "周科长", roles(identity.RoleDepartment)}}},
	{"transport", identity.OrgDepartment, "江西省交通运输厅", "Jiangxi Department of Transport", "360000", [2]byte{'1', '1'}, "01445686",
		[]userSpec{{"dept.transport", "吴科长", roles(identity.RoleDepartment)}}},
	{"health", identity.OrgDepartment, "江西省卫生健康委员会", "Jiangxi Health Commission", "360000", [2]byte{'1', '1'}, "01445694",
		[]userSpec{{"dept.health", "郑科长", roles(identity.RoleDepartment)}}},
	{"edu", identity.OrgDepartment, "江西省教育厅", "Jiangxi Department of Education", "360000", [2]byte{'1', '1'}, "01445678",
		[]userSpec{{"dept.edu", "冯科长", roles(identity.RoleDepartment)}}},
	{"power", identity.OrgUtility, "江西赣电供电服务有限公司", "Gandian Power Supply Services Co., Ltd.", "360100", [2]byte{'9', '1'}, "MA35K2P8",
		[]userSpec{{"utility.power", "蒋主管", roles(identity.RoleDepartment)}}},
	{"op1", identity.OrgOperator, "江西赣数科技有限公司", "Ganshu Technology Co., Ltd.", "360100", [2]byte{'9', '1'}, "MA38TQ1D",
		[]userSpec{{"op.ganshu", "韩经理", roles(identity.RoleOperator)}}},
	{"op2", identity.OrgOperator, "江西洪城数据运营有限公司", "Hongcheng Data Operations Co., Ltd.", "360100", [2]byte{'9', '1'}, "MA39WN7E",
		[]userSpec{{"op.hongcheng", "杨经理", roles(identity.RoleOperator)}}},
	{"op3", identity.OrgOperator, "江西红土数智科技有限公司", "Hongtu Digital Intelligence Co., Ltd.", "360700", [2]byte{'9', '1'}, "MA3AHX5K",
		[]userSpec{{"op.hongtu", "朱经理", roles(identity.RoleOperator)}}},
	{"nc.authority", identity.OrgAuthority, "南昌市发展和改革委员会（南昌市数据局）", "Nanchang Development and Reform Commission (Nanchang Data Administration)", "360100", [2]byte{'1', '1'}, "01460127",
		[]userSpec{{"nc.authority", "秦主任", roles(identity.RoleAuthority)}}},
	{"nc.agency", identity.OrgAgency, "南昌市大数据发展管理中心", "Nanchang Big Data Development Center", "360100", [2]byte{'1', '2'}, "49137051",
		[]userSpec{{"nc.agency", "许工程师", roles(identity.RoleAgency)}}},
	{"user1", identity.OrgUser, "江西惠企征信服务有限公司", "Huiqi Credit Services Co., Ltd.", "360100", [2]byte{'9', '1'}, "MA3CF2R9",
		[]userSpec{{"user.huiqi", "何经理", roles(identity.RoleUser)}}},
	{"cac", identity.OrgRegulator, "中共江西省委网络安全和信息化委员会办公室", "Cyberspace Affairs Office of the CPC Jiangxi Provincial Committee", "360000", [2]byte{'1', '1'}, "01445907",
		[]userSpec{{"regulator.cac", "沈处长", roles(identity.RoleRegulator)}}},
}

// password makes a strong random demo password (all four kinds).
func password() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "Gs-" + string(b[:6]) + "-" + string(b[6:]) + "7a"
}

// Seeded reports whether the platform already has organisations, in which
// case Seed must not run again.
func Seeded(ctx context.Context, ids *identity.Service) (bool, error) {
	orgs, err := ids.Orgs(ctx, identity.OrgFilter{})
	return len(orgs) > 0, err
}

// Seed creates the cast, every user with a fresh password and a 90-day API
// token, and returns the credentials.
func Seed(ctx context.Context, ids *identity.Service) (Credentials, error) {
	var creds Credentials
	for _, o := range cast {
		code := identity.MakeCreditCode(o.creditKind[0], o.creditKind[1], o.region, o.body)
		org, err := ids.CreateOrgAsSystem(ctx, identity.OrgInput{Type: o.typ, Name: o.name, NameEN: o.en, Region: o.region, CreditCode: code})
		if err != nil {
			return creds, fmt.Errorf("demo: organisation %s: %w", o.key, err)
		}
		for _, u := range o.users {
			pw := password()
			user, err := ids.CreateUserAsSystem(ctx, identity.UserInput{Login: u.login, Name: u.name, OrgID: org.ID, Roles: u.roles, Password: pw})
			if err != nil {
				return creds, fmt.Errorf("demo: user %s: %w", u.login, err)
			}
			_, secret, err := ids.CreateTokenAsSystem(ctx, user.Login, "demo", 90*24*time.Hour)
			if err != nil {
				return creds, fmt.Errorf("demo: token for %s: %w", u.login, err)
			}
			rs := make([]string, len(user.Roles))
			for i, r := range user.Roles {
				rs[i] = string(r)
			}
			creds.Accounts = append(creds.Accounts, Account{
				Login: user.Login, Password: pw, Name: user.Name, Role: string(u.roles[0]), Roles: rs,
				Organization: org.Name, OrgID: org.ID, OrgType: string(org.Type), Region: org.Region, Token: secret,
			})
		}
	}
	return creds, nil
}

// Write stores the credentials in dir with mode 0600: they hold passwords.
func Write(dir string, c Credentials) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, CredentialsFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("demo: write credentials: %w", err)
	}
	return os.Rename(tmp, path)
}

// Read loads the credentials written by an earlier demo run.
func Read(dir string) (Credentials, error) {
	var c Credentials
	b, err := os.ReadFile(filepath.Join(dir, CredentialsFile))
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(b, &c)
}
