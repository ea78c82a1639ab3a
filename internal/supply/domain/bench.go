package domain

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/engine"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/pii"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/supply"
)

type oneResource supply.ResourceRef

func (r oneResource) Resource(ctx context.Context, id int64) (supply.ResourceRef, error) {
	return supply.ResourceRef(r), nil
}

// BenchIngest writes a realistic CSV of about sizeBytes into dir (identity
// numbers, names, dates, amounts; not timed), then times DuckDB's own
// CREATE TABLE AS SELECT * FROM read_csv on it and the full supply path
// (Load with staging, hashing, sampling, detectors and profiling, then
// ProposeTags) on the same engine, and prints both and their ratio to w.
// The target is a ratio of at most 1.5.
func BenchIngest(ctx context.Context, dir string, sizeBytes int64, w io.Writer) error {
	path := filepath.Join(dir, "bench.csv")
	t0 := time.Now()
	rows, err := writeBenchCSV(path, sizeBytes)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	fmt.Fprintf(w, "generated %s: %d rows, %.1f MB in %s (not timed)\n", filepath.Base(path), rows, float64(sizeBytes)/1e6, time.Since(t0).Round(time.Millisecond))
	eng, err := engine.Open(ctx, filepath.Join(dir, "domain"), "")
	if err != nil {
		return err
	}
	defer eng.Close()
	db, err := store.OpenSQLite(ctx, filepath.Join(dir, store.FileName))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	log := audit.New(db, time.Now)
	svc := supply.NewService(db, log, Adapt(eng), oneResource{ID: 1, Code: "BENCH", HolderOrgID: 1, Grade: "general-2"}, region.Default(), time.Now)
	p := identity.Principal{UserID: 1, Login: "bench", OrgID: 1, OrgType: identity.OrgDepartment, Roles: []identity.Role{identity.RoleDepartment}}

	t1 := time.Now()
	if err := eng.BaselineReadCSV(ctx, "baseline", path); err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	base := time.Since(t1)
	if err := eng.Drop(ctx, "baseline"); err != nil {
		return err
	}
	t2 := time.Now()
	v, err := svc.Load(ctx, p, 1, supply.Source{Format: supply.CSV, Path: path}, nil)
	if err != nil {
		return fmt.Errorf("supply load: %w", err)
	}
	load := time.Since(t2)
	props, err := svc.ProposeTags(ctx, p, 1)
	if err != nil {
		return err
	}
	full := time.Since(t2)
	tagged := 0
	for _, pr := range props {
		if pr.Tag != pii.None {
			tagged++
		}
	}
	fmt.Fprintf(w, "baseline read_csv CTAS:          %8s  %.0f MB/s\n", base.Round(time.Millisecond), float64(sizeBytes)/1e6/base.Seconds())
	fmt.Fprintf(w, "supply Load (+profile, detect):  %8s\n", load.Round(time.Millisecond))
	fmt.Fprintf(w, "supply Load + ProposeTags:       %8s  %.0f MB/s  (%d rows, %d of %d columns tagged)\n",
		full.Round(time.Millisecond), float64(sizeBytes)/1e6/full.Seconds(), v.Rows, tagged, len(props))
	fmt.Fprintf(w, "ratio supply/baseline:           %8.2f  (target <= 1.50)\n", full.Seconds()/base.Seconds())
	return nil
}

var benchNames = []string{"张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "黄磊", "赵敏", "周杰", "吴昊", "徐丽", "孙强", "欧阳明", "马超", "朱婷", "胡军"}
var benchDistricts = []string{"东湖区", "西湖区", "青云谱区", "青山湖区", "新建区", "红谷滩区", "南昌县", "进贤县", "安义县"}
var benchRegions = []string{"360102", "360103", "360104", "360111", "360112", "360113", "360121", "360124", "360123"}

// writeBenchCSV writes rows until the file reaches size bytes; the values
// are deterministic (a simple linear congruential sequence).
func writeBenchCSV(path string, size int64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	n, _ := bw.WriteString("record_id,id_card,name,gender,birth_date,district,employer,monthly_salary,paid_amount,paid_on\n")
	written := int64(n)
	var x uint64 = 42
	next := func() uint64 { x = x*6364136223846793005 + 1442695040888963407; return x >> 33 }
	var rows int64
	buf := make([]byte, 0, 256)
	for written < size {
		rows++
		r := next()
		y, m, d := 1950+int(r%55), 1+int(r/55%12), 1+int(r/660%28)
		region := benchRegions[r%uint64(len(benchRegions))]
		body := fmt.Sprintf("%s%04d%02d%02d%03d", region, y, m, d, next()%1000)
		id := body + string(pii.ResidentCheckDigit(body))
		gender := "男"
		if body[16]%2 == 0 {
			gender = "女"
		}
		buf = buf[:0]
		buf = fmt.Appendf(buf, "%d,%s,%s,%s,%04d-%02d-%02d,%s,单位%03d有限公司,%d.%02d,%d.%02d,2025-%02d-%02d\n",
			rows, id, benchNames[next()%uint64(len(benchNames))], gender, y, m, d,
			benchDistricts[next()%uint64(len(benchDistricts))], next()%500,
			3000+next()%20000, next()%100, 100+next()%3000, next()%100, 1+next()%12, 1+next()%28)
		k, err := bw.Write(buf)
		if err != nil {
			f.Close()
			return 0, err
		}
		written += int64(k)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	return rows, f.Close()
}
