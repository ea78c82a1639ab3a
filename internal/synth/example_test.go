package synth_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/gongshu/gongshu/internal/synth"
)

// The demo walks the catalog and streams each dataset into its loader;
// here the first rows of the enterprise registry at a test scale. The
// output is fixed by the seed, so this example is also a golden test.
func ExampleWriteCSV() {
	for _, d := range synth.Catalog(0.001) {
		if d.Name != "enterprise_registry" {
			continue
		}
		var b bytes.Buffer
		if err := synth.WriteCSV(context.Background(), &b, d, 2026, nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return
		}
		lines := strings.SplitN(b.String(), "\n", 4)
		fmt.Println(d.Title, d.Department, d.Rows)
		fmt.Println(strings.Join(lines[:3], "\n"))
	}
	// Output:
	// 企业登记信息 江西省市场监督管理局 1000
	// credit_code,name,legal_rep,industry_section,industry_section_name,industry_division,industry_division_name,city,district_code,district,address,registered_capital,established,status,phone
	// 91360725930002715Y,赣州嘉华农业开发有限公司,蔡明斌,A,农、林、牧、渔业,01,农业,赣州市,360725,崇义县,江西省赣州市崇义县昌东东路56号,380,1993-12-05,存续,19931909544
	// 91361127669394048M,上饶康锦商贸有限责任公司,张诚,F,批发和零售业,51,批发业,上饶市,361127,余干县,江西省上饶市余干县红旗西路23号,20,1993-10-05,存续,0793-86037851
}
