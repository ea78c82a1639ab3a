package search

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/store"
)

// Vocabularies the benchmark builds realistic catalog entries from.
var (
	benchRegions = []struct{ code, name string }{
		{"360000", "江西省"}, {"360100", "南昌市"}, {"360200", "景德镇市"}, {"360300", "萍乡市"},
		{"360400", "九江市"}, {"360500", "新余市"}, {"360600", "鹰潭市"}, {"360700", "赣州市"},
		{"360800", "吉安市"}, {"360900", "宜春市"}, {"361000", "抚州市"}, {"361100", "上饶市"},
	}
	benchDepartments = []string{
		"人力资源和社会保障局", "市场监督管理局", "税务局", "住房公积金管理中心", "自然资源局",
		"交通运输局", "卫生健康委员会", "公安局", "民政局", "教育局", "生态环境局", "农业农村局",
		"统计局", "医疗保障局", "住房和城乡建设局", "商务局", "发展和改革委员会", "林业局",
	}
	benchDomains = []struct {
		code     string
		subjects []string
	}{
		{"social", []string{"社保缴费", "社会保险参保", "社保待遇发放", "失业保险金", "养老保险"}},
		{"market", []string{"企业登记", "企业年报", "个体工商户", "市场主体变更", "企业信用"}},
		{"tax", []string{"纳税信用", "企业纳税", "发票开具", "税收减免"}},
		{"housing", []string{"公积金缴存", "公积金提取", "公积金贷款", "住房保障"}},
		{"land", []string{"不动产登记", "土地出让", "国土空间规划"}},
		{"transport", []string{"公共交通客流", "交通违法", "道路运输许可", "出租汽车运营"}},
		{"health", []string{"医疗机构执业", "疫苗接种", "出生医学证明"}},
		{"civil", []string{"婚姻登记", "社会组织登记", "最低生活保障"}},
		{"ecology", []string{"空气质量监测", "水质监测", "排污许可", "候鸟监测"}},
		{"economy", []string{"地区生产总值", "规模以上工业", "固定资产投资", "进出口贸易"}},
	}
	benchSuffixes = []string{"信息", "明细", "统计", "台账", "数据", "目录"}
	benchColumns  = []string{
		"id 记录编号", "name 名称", "uscc 统一社会信用代码", "id_no 身份证号码", "phone 联系电话",
		"addr 地址", "region_code 行政区划代码", "reg_date 登记日期", "amount 金额", "status 状态",
		"org_name 单位名称", "person_name 姓名", "start_date 起始日期", "end_date 截止日期",
		"pay_base 缴费基数", "pay_month 缴费月份", "account_no 账号", "balance 余额", "rate 比例",
		"license_no 许可证号", "vehicle_no 车牌号码", "route 线路", "station 站点", "count 数量",
		"area 面积", "price 价格", "category 类别", "level 等级", "remark 备注", "updated 更新时间",
		"gdp 生产总值", "credit_level 信用等级", "tax_amount 税额", "invoice_no 发票号码",
	}
	benchGrades      = []string{"1", "2", "3"}
	benchFrequencies = []string{"realtime", "daily", "weekly", "monthly", "quarterly", "annual"}
)

// BenchDocument generates the i-th benchmark document, the same for the
// same seed and i.
func BenchDocument(r *rand.Rand, i int64) Document {
	reg := benchRegions[r.IntN(len(benchRegions))]
	dept := r.IntN(len(benchDepartments))
	dom := benchDomains[r.IntN(len(benchDomains))]
	subj := dom.subjects[r.IntN(len(dom.subjects))]
	// The rare subject stays rare: most draws of it fall back to another.
	if subj == "候鸟监测" && r.IntN(200) != 0 {
		subj = "空气质量监测"
	}
	name := reg.name + subj + benchSuffixes[r.IntN(len(benchSuffixes))]
	other := benchDomains[r.IntN(len(benchDomains))]
	osubj := other.subjects[r.IntN(len(other.subjects))]
	if osubj == "候鸟监测" {
		osubj = "水质监测"
	}
	desc := reg.name + benchDepartments[dept] + "汇聚的" + subj + "数据，含" + osubj + "相关字段，按" + benchFrequencies[r.IntN(len(benchFrequencies))] + "更新。"
	nc := 5 + r.IntN(26)
	cols := make([]string, nc)
	for j := range cols {
		cols[j] = benchColumns[r.IntN(len(benchColumns))]
	}
	return Document{
		ID: i, Code: fmt.Sprintf("%s-R-%07d", reg.code, i), Kind: KindResource,
		Name: name, Description: desc, Columns: cols,
		Facets: map[string]string{
			"department": strconv.Itoa(dept + 1), "domain": dom.code,
			"grade": benchGrades[r.IntN(3)], "region": reg.code,
			"frequency": benchFrequencies[r.IntN(len(benchFrequencies))],
		},
		Public:    r.IntN(10) != 0,
		UpdatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(365*24)) * time.Hour),
	}
}

// BenchQueries are the query kinds the benchmark measures.
var BenchQueries = []struct {
	Label string
	Query Query
	// Like is the same search as LIKE patterns, ANDed, for the baseline.
	Like []string
}{
	{"社保", Query{Text: "社保"}, []string{"%社保%"}},
	{"企业 信用", Query{Text: "企业 信用"}, []string{"%企业%", "%信用%"}},
	{"公积金 缴存", Query{Text: "公积金 缴存"}, []string{"%公积金%", "%缴存%"}},
	{"交通", Query{Text: "交通"}, []string{"%交通%"}},
	{"候鸟 (rare)", Query{Text: "候鸟"}, []string{"%候鸟%"}},
	{"empty+domain", Query{Filters: map[string][]string{"domain": {"social"}}}, nil},
}

// Seed indexes n generated documents in transactions of a few thousand, and
// fills the baseline's plain table beside them when like is set.
func Seed(ctx context.Context, db *store.DB, n int, like bool) error {
	r := rand.New(rand.NewPCG(2025, 12))
	const per = 5000
	for start := 0; start < n; start += per {
		docs := make([]Document, 0, per)
		for i := start; i < n && i < start+per; i++ {
			docs = append(docs, BenchDocument(r, int64(i+1)))
		}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if err := insertDocs(ctx, tx, docs); err != nil {
				return err
			}
			if !like {
				return nil
			}
			for _, d := range docs {
				pub := 0
				if d.Public {
					pub = 1
				}
				if _, err := tx.Exec(ctx, `INSERT INTO search_bench_like (id, name, description, cols, domain, public, updated_at)
					VALUES (?, ?, ?, ?, ?, ?, ?)`, d.ID, d.Name, d.Description, strings.Join(d.Columns, " "),
					d.Facets["domain"], pub, d.UpdatedAt.UnixMicro()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("seed search benchmark at %d: %w", start, err)
		}
	}
	return nil
}

// likeSearch is the baseline: the search a catalog without an index does,
// a LIKE scan over names, descriptions and columns.
func likeSearch(ctx context.Context, db *store.DB, bq []string, filter map[string][]string) (int, error) {
	where := []string{"public = 1"}
	var args []any
	for _, p := range bq {
		where = append(where, "(name LIKE ? OR description LIKE ? OR cols LIKE ?)")
		args = append(args, p, p, p)
	}
	for _, v := range filter["domain"] {
		where = append(where, "domain = ?")
		args = append(args, v)
	}
	rows, err := db.Query(ctx, `SELECT id, name FROM search_bench_like WHERE `+strings.Join(where, " AND ")+
		` ORDER BY updated_at DESC LIMIT 20`, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

// Percentiles returns the p50 and p95 of durations (sorted in place).
func Percentiles(ds []time.Duration) (p50, p95 time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	return ds[len(ds)*50/100], ds[min(len(ds)-1, len(ds)*95/100)]
}

// Bench seeds n generated documents into db (a freshly migrated, otherwise
// empty store), times every BenchQueries kind through Search and through
// the LIKE baseline, and prints p50/p95 per kind with the ratio. It creates
// and drops the baseline's table search_bench_like.
func Bench(ctx context.Context, db *store.DB, n int, w io.Writer) error {
	if _, err := db.Exec(ctx, `CREATE TABLE search_bench_like (id BIGINT PRIMARY KEY, name TEXT, description TEXT,
		cols TEXT, domain TEXT, public INTEGER, updated_at BIGINT)`); err != nil {
		return fmt.Errorf("search bench: %w", err)
	}
	defer db.Exec(context.WithoutCancel(ctx), `DROP TABLE search_bench_like`)
	t0 := time.Now()
	if err := Seed(ctx, db, n, true); err != nil {
		return err
	}
	fmt.Fprintf(w, "seeded %d documents in %s\n", n, time.Since(t0).Round(time.Millisecond))
	rd := NewReader(db)
	t0 = time.Now()
	if err := rd.Warm(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "loaded the index into memory in %s (once per process; later changes are caught up per query)\n", time.Since(t0).Round(time.Millisecond))
	fmt.Fprintf(w, "%-14s %8s %10s %10s %12s %12s %8s\n", "query", "hits", "p50", "p95", "LIKE p50", "LIKE p95", "ratio")
	for _, bq := range BenchQueries {
		idx, total, err := timeSearch(ctx, rd, bq.Query, 50)
		if err != nil {
			return err
		}
		var like []time.Duration
		for range 5 {
			s := time.Now()
			if _, err := likeSearch(ctx, db, bq.Like, bq.Query.Filters); err != nil {
				return fmt.Errorf("search bench LIKE %q: %w", bq.Label, err)
			}
			like = append(like, time.Since(s))
		}
		p50, p95 := Percentiles(idx)
		l50, l95 := Percentiles(like)
		fmt.Fprintf(w, "%-14s %8d %10s %10s %12s %12s %7.0fx\n", bq.Label, total, p50.Round(time.Microsecond), p95.Round(time.Microsecond),
			l50.Round(time.Microsecond), l95.Round(time.Microsecond), float64(l50)/float64(max(p50, 1)))
	}
	return nil
}

func timeSearch(ctx context.Context, rd *Reader, q Query, reps int) ([]time.Duration, int, error) {
	var ds []time.Duration
	total := 0
	for range reps {
		s := time.Now()
		r, err := rd.Search(ctx, q)
		if err != nil {
			return nil, 0, err
		}
		ds = append(ds, time.Since(s))
		total = r.Total
	}
	return ds, total, nil
}
