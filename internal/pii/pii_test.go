package pii

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/identity"
)

// TestResidentIDValid checks the GB 11643 check digit against testdata,
// including numbers whose only fault is the check digit.
func TestResidentIDValid(t *testing.T) {
	f, err := os.Open("testdata/resident_ids.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		v, want, _ := strings.Cut(line, "\t")
		n++
		t.Run(v, func(t *testing.T) {
			if got := ResidentIDValid(v); got != (want == "true") {
				t.Errorf("ResidentIDValid(%s) = %v, want %s", v, got, want)
			}
		})
	}
	if n < 8 {
		t.Fatalf("only %d cases read", n)
	}
}

func TestSmallPredicates(t *testing.T) {
	tests := []struct {
		name string
		fn   func(string) bool
		in   string
		want bool
	}{
		{"mobile", IsMobile, "13812345678", true},
		{"mobile +86", IsMobile, "+86 138-1234-5678", true},
		{"mobile landline", IsMobile, "0791-8888888", false},
		{"mobile 12x", IsMobile, "12812345678", false},
		{"date iso", IsDate, "1990-03-07", true},
		{"date compact", IsDate, "19900307", true},
		{"date chinese", IsDate, "1990年3月7日", true},
		{"date feb 30", IsDate, "1990-02-30", false},
		{"name", IsPersonName, "张三", true},
		{"name three", IsPersonName, "欧阳娜娜", true},
		{"name not surname", IsPersonName, "的确良", false},
		{"name company", IsPersonName, "江西铜业有限公司", false},
		{"name latin", IsPersonName, "Zhang", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.fn(tt.in); got != tt.want {
				t.Errorf("%s(%q) = %v, want %v", tt.name, tt.in, got, tt.want)
			}
		})
	}
}

func residentIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		body := fmt.Sprintf("3601021990%02d%02d%03d", 1+i%12, 1+i%28, i%1000)
		out[i] = body + string(ResidentCheckDigit(body))
	}
	return out
}

func repeat(v string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestDetect(t *testing.T) {
	ids := residentIDs(100)
	badIDs := make([]string, len(ids))
	for i, v := range ids {
		c := byte('0')
		if v[17] == '0' {
			c = '1'
		}
		badIDs[i] = v[:17] + string(c)
	}
	credit := repeat(identity.MakeCreditCode('9', '1', "360100", "MA35F7K2"), 50)
	tests := []struct {
		column  string
		values  []string
		tag     Tag
		det     string
		minConf float64
	}{
		{"col1", ids, DirectIdentifier, DetResidentID, 0.8},
		{"身份证号", badIDs, DirectIdentifier, DetResidentID, 0.6},
		{"code", credit, DirectIdentifier, DetCreditCode, 0.8},
		{"phone", repeat("13912345678", 20), DirectIdentifier, DetMobile, 0.9},
		{"who", []string{"张三", "李四", "王小明", "欧阳娜娜", "陈静"}, DirectIdentifier, DetPersonName, 0.8},
		{"姓名", []string{"", ""}, DirectIdentifier, DetPersonName, 0.5},
		{"birth_date", repeat("1990-03-07", 10), QuasiIdentifier, DetBirthDate, 0.9},
		{"xb", []string{"男", "女", "男"}, QuasiIdentifier, DetGender, 0.9},
		{"住址", repeat("江西省南昌市东湖区八一大道1号", 5), QuasiIdentifier, DetAddress, 0.9},
		{"工作单位", repeat("江西铜业有限公司", 5), QuasiIdentifier, DetEmployer, 0.6},
		{"monthly_salary", repeat("8500.00", 5), Sensitive, DetSensitive, 0.6},
		{"诊断结果", repeat("高血压", 5), Sensitive, DetSensitive, 0.6},
		{"station", repeat("八一广场", 5), None, DetNone, 1},
		{"trade_date", repeat("2025-01-01", 5), None, DetNone, 1},
	}
	for _, tt := range tests {
		t.Run(tt.column, func(t *testing.T) {
			p := Detect(tt.column, tt.values)
			if p.Tag != tt.tag || p.Detector != tt.det || p.Confidence < tt.minConf {
				t.Errorf("Detect = %+v, want tag %s detector %s confidence >= %v", p, tt.tag, tt.det, tt.minConf)
			}
			if p.Column != tt.column {
				t.Errorf("column = %q", p.Column)
			}
		})
	}
}

// TestBadCheckDigitsCounted: wrong check digits are counted as rejected,
// and the evidence holds counts only.
func TestBadCheckDigitsCounted(t *testing.T) {
	vals := append(residentIDs(10), "360102199003071230", "360421198512310020")
	p := Detect("x", vals)
	if p.Evidence.Matched != 10 || p.Evidence.Rejected != 2 || p.Evidence.Sampled != 12 {
		t.Fatalf("evidence = %+v", p.Evidence)
	}
}

// BenchmarkDetect times the detectors on 10,000 values per column and
// reports the ratio to a baseline that only walks the same values.
func BenchmarkDetect(b *testing.B) {
	ids := residentIDs(10000)
	names := make([]string, 10000)
	for i := range names {
		names[i] = string([]rune(surnames)[i%100]) + "小明"
	}
	for _, col := range []struct {
		name   string
		values []string
	}{{"ids", ids}, {"names", names}} {
		b.Run(col.name, func(b *testing.B) {
			var base, det time.Duration
			sink := 0
			for b.Loop() {
				t0 := time.Now()
				for _, v := range col.values {
					sink += len(strings.TrimSpace(v))
				}
				t1 := time.Now()
				Detect("c", col.values)
				det += time.Since(t1)
				base += t1.Sub(t0)
			}
			_ = sink
			b.ReportMetric(float64(det)/float64(max(base, 1)), "x_baseline")
			b.ReportMetric(float64(det.Nanoseconds())/float64(b.N)/1e6, "ms/column")
		})
	}
}
