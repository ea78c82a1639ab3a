package synth

import (
	"math"
	"strings"
)

// Column kinds tell the platform's privacy policy how to treat a column.
const (
	DirectIdentifier = "direct_identifier" // names a person on its own: ID number, name, phone
	QuasiIdentifier  = "quasi_identifier"  // identifies in combination: birth date, gender, address, employer
	Sensitive        = "sensitive"         // the value to protect: salaries, amounts, grades
)

// Column describes one CSV column.
type Column struct {
	Name  string // SQL-safe column name
	Label string // Chinese label
	Type  string // SQL type: VARCHAR, BIGINT, DOUBLE or DATE
	Kind  string // DirectIdentifier, QuasiIdentifier, Sensitive or ""
}

// Dataset describes one synthetic public data resource: who holds it, how
// it is graded and what its rows look like. WriteCSV generates its rows.
type Dataset struct {
	Name           string // table-safe name, e.g. enterprise_registry
	Title          string // Chinese title
	Department     string // Chinese name of the holding department or enterprise
	DepartmentKind string // "department" (a government department) or "utility" (a public enterprise)
	Domain         string // registry domain code: market, tax, social_security, …
	DomainLabel    string // the domain in Chinese: 市场监管, 税务, …
	Grade          string // GB/T 43697 grade in the registry's vocabulary: general-2, important, …
	GradeLabel     string // the grade in Chinese: 一般-2, 重要, …
	Frequency      string // update frequency: daily, monthly, yearly
	Description    string // Chinese description
	Columns        []Column
	Rows           int64   // exact number of data rows WriteCSV writes (header excluded)
	PrivacyUnit    string  // column naming the person or enterprise a row is about ("" if none)
	Scale          float64 // the scale the rows were sized for; WriteCSV uses it
}

// Population sizes at scale 1 beyond the enterprises and persons.
const (
	estateDeals = 200_000 // home sales in a year
	households  = 300_000 // household electricity accounts
	busLines    = 150     // bus lines of a Nanchang-like city
	busStops    = 20      // stops per line
	busDays     = 7       // one week, 2025-11-03 (Monday) .. 2025-11-09
	busHours    = 18      // service hours 05..22
)

func atScale(n float64, scale float64) int64 { return max(1, int64(math.Round(n*scale))) }

// fundMembers is how many insured persons hold a housing provident fund
// account: persons whose index is 0..3 mod 10, about 40%.
func fundMembers(persons int64) int64 { return persons/10*4 + min(persons%10, 4) }

func fundPerson(k int64) int64 { return k/4*10 + k%4 }

// Catalog lists the seven datasets with their exact row counts at a scale:
// 1.0 is full size (1,000,000 enterprises, 2,000,000 insured persons);
// tests use 0.001. Row counts do not depend on the seed.
func Catalog(scale float64) []Dataset {
	ents, persons := sizes(scale)
	w := newWorld(scale, 0) // band boundaries depend on the scale only
	var taxRows int64
	for y := taxFirst; y < taxFirst+taxYears; y++ {
		taxRows += w.establishedBy(y)
	}
	c := func(name, label, typ, kind string) Column { return Column{name, label, typ, kind} }
	v, b, f, dt := "VARCHAR", "BIGINT", "DOUBLE", "DATE"
	ds := []Dataset{{
		Name: "enterprise_registry", Title: "企业登记信息", Department: "江西省市场监督管理局", DepartmentKind: "department",
		Domain: "market", DomainLabel: "市场监管", Grade: "general-2", Frequency: "daily",
		Description: "全省企业登记注册信息：统一社会信用代码、名称、法定代表人、国民经济行业（GB/T 4754-2017）、所在区县、住所、注册资本、成立日期、登记状态和联系电话。",
		Columns: []Column{
			c("credit_code", "统一社会信用代码", v, ""),
			c("name", "企业名称", v, ""),
			c("legal_rep", "法定代表人", v, DirectIdentifier),
			c("industry_section", "行业门类代码", v, ""),
			c("industry_section_name", "行业门类", v, ""),
			c("industry_division", "行业大类代码", v, ""),
			c("industry_division_name", "行业大类", v, ""),
			c("city", "设区市", v, ""),
			c("district_code", "区县代码", v, ""),
			c("district", "区县", v, ""),
			c("address", "住所", v, ""),
			c("registered_capital", "注册资本（万元）", f, ""),
			c("established", "成立日期", dt, ""),
			c("status", "登记状态", v, ""),
			c("phone", "联系电话", v, DirectIdentifier),
		},
		Rows: ents, PrivacyUnit: "credit_code",
	}, {
		Name: "tax_credit", Title: "纳税信用等级评价结果", Department: "国家税务总局江西省税务局", DepartmentKind: "department",
		Domain: "tax", DomainLabel: "税务", Grade: "general-3", Frequency: "yearly",
		Description: "企业年度纳税信用等级评价结果（A、B、M、C、D），2023至2025年度；当年新设立的企业评为M级。",
		Columns: []Column{
			c("credit_code", "统一社会信用代码", v, ""),
			c("year", "评价年度", b, ""),
			c("grade", "纳税信用等级", v, Sensitive),
			c("district_code", "主管税务机关所在区县代码", v, ""),
			c("industry_section", "行业门类代码", v, ""),
		},
		Rows: taxRows, PrivacyUnit: "credit_code",
	}, {
		Name: "social_insurance", Title: "社会保险参保缴费信息", Department: "江西省人力资源和社会保障厅", DepartmentKind: "department",
		Domain: "social_security", DomainLabel: "社保", Grade: "general-3", Frequency: "monthly",
		Description: "职工基本养老、医疗、失业和工伤保险的月度缴费明细：参保人、参保单位、缴费基数和各险种单位及个人缴费额，2025年7月至12月。",
		Columns: []Column{
			c("id_number", "公民身份号码", v, DirectIdentifier),
			c("name", "姓名", v, DirectIdentifier),
			c("phone", "手机号码", v, DirectIdentifier),
			c("gender", "性别", v, QuasiIdentifier),
			c("birth_date", "出生日期", dt, QuasiIdentifier),
			c("hukou_district_code", "户籍区县代码", v, QuasiIdentifier),
			c("employer_credit_code", "参保单位统一社会信用代码", v, QuasiIdentifier),
			c("employer_name", "参保单位名称", v, QuasiIdentifier),
			c("month", "缴费月份", v, ""),
			c("base", "缴费基数（元）", f, Sensitive),
			c("pension_unit", "养老保险单位缴费（元）", f, Sensitive),
			c("pension_person", "养老保险个人缴费（元）", f, Sensitive),
			c("medical_unit", "医疗保险单位缴费（元）", f, Sensitive),
			c("medical_person", "医疗保险个人缴费（元）", f, Sensitive),
			c("unemployment_unit", "失业保险单位缴费（元）", f, Sensitive),
			c("unemployment_person", "失业保险个人缴费（元）", f, Sensitive),
			c("injury_unit", "工伤保险单位缴费（元）", f, Sensitive),
		},
		Rows: persons * siMonths, PrivacyUnit: "id_number",
	}, {
		Name: "housing_fund", Title: "住房公积金缴存信息", Department: "江西省住房公积金管理中心", DepartmentKind: "department",
		Domain: "housing_fund", DomainLabel: "公积金", Grade: "general-3", Frequency: "monthly",
		Description: "住房公积金个人账户的月度缴存：缴存单位、缴存基数、缴存比例、月缴存额（单位和个人合计）和月末余额，2025年7月至12月。",
		Columns: []Column{
			c("account_no", "个人公积金账号", v, DirectIdentifier),
			c("id_number", "公民身份号码", v, DirectIdentifier),
			c("name", "姓名", v, DirectIdentifier),
			c("employer_credit_code", "缴存单位统一社会信用代码", v, QuasiIdentifier),
			c("month", "缴存月份", v, ""),
			c("deposit_base", "缴存基数（元）", f, Sensitive),
			c("deposit_rate", "缴存比例", f, ""),
			c("monthly_deposit", "月缴存额（元）", f, Sensitive),
			c("withdrawal", "当月提取额（元）", f, Sensitive),
			c("balance", "月末余额（元）", f, Sensitive),
		},
		Rows: fundMembers(persons) * siMonths, PrivacyUnit: "id_number",
	}, {
		Name: "real_estate_transactions", Title: "不动产交易登记信息", Department: "江西省自然资源厅", DepartmentKind: "department",
		Domain: "real_estate", DomainLabel: "不动产", Grade: "important", Frequency: "daily",
		Description: "2025年新建商品房和存量房买卖的不动产登记信息：不动产单元号、区县、坐落、建筑面积、成交价格、合同日期和买受人。",
		Columns: []Column{
			c("transaction_id", "交易编号", v, ""),
			c("property_id", "不动产单元号", v, QuasiIdentifier),
			c("property_type", "房屋类型", v, ""),
			c("district_code", "区县代码", v, ""),
			c("district", "区县", v, ""),
			c("address", "坐落", v, QuasiIdentifier),
			c("area_m2", "建筑面积（平方米）", f, ""),
			c("price", "成交价格（元）", f, Sensitive),
			c("unit_price", "单价（元/平方米）", f, Sensitive),
			c("contract_date", "合同签订日期", dt, ""),
			c("buyer_id_number", "买受人公民身份号码", v, DirectIdentifier),
			c("buyer_name", "买受人姓名", v, DirectIdentifier),
		},
		Rows: atScale(estateDeals, scale), PrivacyUnit: "buyer_id_number",
	}, {
		Name: "bus_ridership", Title: "公交客流统计", Department: "江西省交通运输厅", DepartmentKind: "department",
		Domain: "transport", DomainLabel: "交通", Grade: "general-1", Frequency: "daily",
		Description: "南昌市公交线路分站点、分时段、分乘车方式的上车人次统计，2025年11月3日至9日。",
		Columns: []Column{
			c("date", "日期", dt, ""),
			c("line", "线路", v, ""),
			c("stop_seq", "站序", b, ""),
			c("stop_name", "站点", v, ""),
			c("hour", "时段（时）", b, ""),
			c("card_type", "乘车方式", v, ""),
			c("boardings", "上车人次", b, ""),
		},
		Rows: atScale(busLines, scale) * busStops * busDays * busHours * int64(len(cardTypes)),
	}, {
		Name: "electricity_consumption", Title: "企业用电量信息", Department: "国网江西省电力有限公司", DepartmentKind: "utility",
		Domain: "utilities", DomainLabel: "公用事业", Grade: "general-2", Frequency: "monthly",
		Description: "供电企业按户号、按月统计的工商业和居民用电量（2025年），非居民户关联统一社会信用代码，可反映企业经营活跃度。",
		Columns: []Column{
			c("account_no", "用电户号", v, DirectIdentifier),
			c("account_type", "用户类别", v, ""),
			c("credit_code", "统一社会信用代码", v, QuasiIdentifier),
			c("district_code", "区县代码", v, QuasiIdentifier),
			c("price_class", "用电类别", v, ""),
			c("industry_division", "行业大类代码", v, ""),
			c("month", "月份", v, ""),
			c("kwh", "用电量（千瓦时）", f, Sensitive),
		},
		Rows: (ents + atScale(households, scale)) * 12, PrivacyUnit: "account_no",
	}}
	for i := range ds {
		ds[i].Scale = scale
		ds[i].GradeLabel = gradeLabel(ds[i].Grade)
	}
	return ds
}

// gradeLabel renders a registry grade code in Chinese (general-2 -> 一般-2).
func gradeLabel(g string) string {
	switch {
	case g == "important":
		return "重要"
	case g == "core":
		return "核心"
	case strings.HasPrefix(g, "general-"):
		return "一般-" + strings.TrimPrefix(g, "general-")
	}
	return g
}
