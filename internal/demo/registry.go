package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/registry"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/workday"
)

// resourceSpec is a demo resource: who holds it and how far its
// registration has gone.
type resourceSpec struct {
	holder string // login of a user of the holding organisation
	form   registry.ResourceForm
	upTo   registry.Status // the state the demo leaves it in
}

func item(name, label, standard string) registry.DataItem {
	return registry.DataItem{Name: name, Label: label, Standard: standard}
}

// resources are the demo's public data resources: the registered ones are
// what the synthetic data loads into; the rest fill the authority's queue.
var resources = []resourceSpec{
	{"dept.amr", registry.ResourceForm{Name: "企业登记信息", Description: "全省企业和个体工商户的登记注册信息：统一社会信用代码、行业、注册资本、成立日期、登记状态和住所。",
		Domain: "market", Classification: "市场监管/市场主体登记", Grade: "general-2", Frequency: "daily", SourceSystem: "江西省市场主体登记注册系统",
		LegalBasis: "《市场主体登记管理条例》", StorageLocation: "省政务云", StorageMethod: "platform", AccessMethod: "authorized",
		Standards: []string{"GB 32100", "GB/T 4754"},
		Items:     []registry.DataItem{item("uscc", "统一社会信用代码", "GB 32100"), item("industry", "国民经济行业", "GB/T 4754"), item("capital", "注册资本", ""), item("district", "所在区县", "GB/T 2260")}},
		registry.Registered},
	{"dept.tax", registry.ResourceForm{Name: "纳税信用等级评价结果", Description: "企业年度纳税信用等级评价结果（A、B、M、C、D），按年度更新。",
		Domain: "tax", Classification: "税务/纳税信用", Grade: "general-3", Frequency: "yearly", SourceSystem: "金税系统",
		LegalBasis: "《纳税信用管理办法》", StorageLocation: "省税务局数据中心", StorageMethod: "database", AccessMethod: "authorized",
		Items: []registry.DataItem{item("uscc", "统一社会信用代码", "GB 32100"), item("year", "评价年度", ""), item("grade", "信用等级", "")}},
		registry.Registered},
	{"dept.hrss", registry.ResourceForm{Name: "社会保险参保缴费信息", Description: "全省职工基本养老、医疗、失业、工伤保险的参保登记与月度缴费明细，含缴费基数和单位。",
		Domain: "social_security", Classification: "社会保障/参保缴费", Grade: "general-3", PersonalInfo: true, Frequency: "monthly",
		SourceSystem: "江西省社会保险信息系统", LegalBasis: "《社会保险法》", StorageLocation: "省政务云", StorageMethod: "platform", AccessMethod: "authorized",
		Items: []registry.DataItem{item("id_no", "公民身份号码", "GB 11643"), item("employer_uscc", "参保单位统一社会信用代码", "GB 32100"), item("base", "缴费基数", ""), item("month", "缴费月份", "")}},
		registry.Registered},
	{"dept.hpf", registry.ResourceForm{Name: "住房公积金缴存信息", Description: "住房公积金个人账户的月缴存额、余额与缴存单位，按月更新。",
		Domain: "housing_fund", Classification: "住房保障/公积金缴存", Grade: "general-3", PersonalInfo: true, Frequency: "monthly",
		SourceSystem: "住房公积金综合服务平台", LegalBasis: "《住房公积金管理条例》", StorageLocation: "省公积金中心机房", StorageMethod: "database", AccessMethod: "authorized",
		Items: []registry.DataItem{item("id_no", "公民身份号码", "GB 11643"), item("employer_uscc", "缴存单位统一社会信用代码", "GB 32100"), item("deposit", "月缴存额", "")}},
		registry.Registered},
	{"dept.nr", registry.ResourceForm{Name: "不动产交易登记信息", Description: "商品房和存量房交易的不动产登记信息：区县、面积、成交价格和登记日期。",
		Domain: "real_estate", Classification: "自然资源/不动产登记", Grade: "important", PersonalInfo: true, Frequency: "daily",
		SourceSystem: "江西省不动产登记信息平台", LegalBasis: "《不动产登记暂行条例》", StorageLocation: "省政务云", StorageMethod: "platform", AccessMethod: "authorized",
		Items: []registry.DataItem{item("property_id", "不动产单元号", ""), item("district", "所在区县", "GB/T 2260"), item("area", "建筑面积", ""), item("price", "成交价格", "")}},
		registry.Registered},
	{"dept.transport", registry.ResourceForm{Name: "公交客流统计", Description: "南昌市公交线路分站点、分时段的刷卡与扫码乘车人次统计。",
		Domain: "transport", Classification: "交通运输/公共交通", Grade: "general-1", Frequency: "daily",
		SourceSystem: "南昌公交一卡通清分系统", LegalBasis: "《城市公共交通条例》", StorageLocation: "省交通运输厅数据中心", StorageMethod: "database", AccessMethod: "open",
		Items: []registry.DataItem{item("line", "线路", ""), item("stop", "站点", ""), item("hour", "时段", ""), item("boardings", "乘车人次", "")}},
		registry.Registered},
	{"utility.power", registry.ResourceForm{Name: "企业用电量信息", Description: "供电企业按户号、按月统计的工商业和居民用电量，可反映企业经营活跃度（公共企事业单位数据，R23）。",
		Domain: "utilities", Classification: "公用事业/电力", Grade: "general-2", Frequency: "monthly",
		SourceSystem: "营销业务应用系统", LegalBasis: "《电力法》及供用电合同", StorageLocation: "供电公司数据中心", StorageMethod: "database", AccessMethod: "authorized",
		Items: []registry.DataItem{item("account", "用电户号", ""), item("uscc", "统一社会信用代码", "GB 32100"), item("month", "月份", ""), item("kwh", "用电量", "")}},
		registry.Registered},
	{"dept.health", registry.ResourceForm{Name: "医疗机构门诊诊疗统计", Description: "全省二级以上医疗机构按病种、按月的门诊诊疗人次统计。",
		Domain: "health", Classification: "卫生健康/医疗服务", Grade: "important", Frequency: "monthly",
		SourceSystem: "全民健康信息平台", LegalBasis: "《基本医疗卫生与健康促进法》", StorageLocation: "省卫健委数据中心", StorageMethod: "database", AccessMethod: "application"},
		registry.Announced},
	{"dept.edu", registry.ResourceForm{Name: "中小学学位供给统计", Description: "按学区统计的中小学在校生人数、班额和学位供给情况。",
		Domain: "education", Classification: "教育/基础教育", Grade: "general-2", Frequency: "yearly",
		SourceSystem: "教育管理信息系统", LegalBasis: "《义务教育法》", StorageLocation: "省教育厅", StorageMethod: "database", AccessMethod: "authorized"},
		registry.Accepted},
	{"dept.amr", registry.ResourceForm{Name: "企业年度报告信息", Description: "企业年度报告公示的从业人数、资产状况和社保缴纳情况。",
		Domain: "market", Classification: "市场监管/年度报告", Grade: "general-2", Frequency: "yearly", SourceSystem: "国家企业信用信息公示系统（江西）",
		LegalBasis: "《企业信息公示暂行条例》", StorageLocation: "省政务云", StorageMethod: "platform", AccessMethod: "authorized",
		Items: []registry.DataItem{item("uscc", "统一社会信用代码", "GB 32100"), item("employees", "从业人数", "")}},
		registry.Submitted},
}

// SeedRegistry registers the demo's resources and one product, and returns
// the registered resources' IDs by name. The
// registrations are dated back over the last weeks (the service runs on a
// clock of its own that walks through the working days each step needs),
// so the demo shows registered items beside some still in the queue.
func SeedRegistry(ctx context.Context, db *store.DB, log *audit.Log, ids *identity.Service, regions *region.Table,
	cal *workday.Calendar, creds Credentials, now time.Time) (map[string]int64, error) {
	clock := now.AddDate(0, 0, -45)
	reg := registry.New(db, log, ids, regions, cal, func() time.Time { return clock }, registry.NewSearchIndex(db))
	who := func(login string) (identity.Principal, error) {
		for _, a := range creds.Accounts {
			if a.Login == login {
				return ids.AuthenticateToken(ctx, a.Token)
			}
		}
		return identity.Principal{}, fmt.Errorf("demo: no account %s", login)
	}
	authority, err := who("authority")
	if err != nil {
		return nil, err
	}
	byName := map[string]int64{}
	var registered []int64
	for _, r := range resources {
		p, err := who(r.holder)
		if err != nil {
			return nil, err
		}
		f := r.form
		f.HolderOrgID = p.OrgID
		clock = clock.Add(2 * time.Hour)
		it, err := reg.SubmitResource(ctx, p, f)
		if err != nil {
			return nil, fmt.Errorf("demo: register %s: %w", f.Name, err)
		}
		steps := map[registry.Status][]registry.Step{
			registry.Accepted:   {registry.StepAccept},
			registry.Announced:  {registry.StepAccept, registry.StepAnnounce},
			registry.Registered: {registry.StepAccept, registry.StepAnnounce, registry.StepRegister},
		}[r.upTo]
		for _, s := range steps {
			if s == registry.StepRegister {
				// Past the announcement period.
				clock = clock.AddDate(0, 0, 9)
			}
			if it, err = reg.Advance(ctx, authority, it.ID, s, ""); err != nil {
				return nil, fmt.Errorf("demo: %s %s: %w", s, f.Name, err)
			}
		}
		if r.upTo == registry.Registered {
			registered = append(registered, it.ID)
			byName[f.Name] = it.ID
		}
		clock = clock.AddDate(0, 0, 2)
	}
	op, err := who("op.ganshu")
	if err != nil {
		return nil, err
	}
	if _, err := reg.SubmitProduct(ctx, op, registry.ProductForm{Name: "企业经营活跃度指数", Description: "融合企业登记、纳税信用和用电量数据，按行业和区县发布的企业经营活跃度指数报告。",
		Type: "report", ResourceIDs: []int64{registered[0], registered[1], registered[6]}, AgreementRef: "赣数授〔2026〕1号",
		PriceFen: 2_000_000, PriceUnit: "期", PricingBasis: "按成本加合理利润定价，并报价格主管部门备案"}); err != nil {
		return nil, fmt.Errorf("demo: product: %w", err)
	}
	return byName, nil
}
