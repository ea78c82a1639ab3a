// Package pii proposes privacy tags for columns of public data: it looks at a
// column's name and a sample of its values and says whether the column is a
// direct identifier (resident ID number, unified social credit code, mobile
// number, person name), a quasi-identifier (birth date, gender, address,
// employer) or sensitive (salary, amounts, diagnoses). It is pure: no
// database, no clock, no logging. A proposal carries counts as evidence and
// never a raw value, so it may be stored and shown to anyone who may see the
// column's metadata. Proposals are only proposals: a person of the holding
// department confirms each tag (internal/supply).
package pii

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gongshu/gongshu/internal/identity"
)

// Tag is the privacy class of a column.
type Tag string

const (
	DirectIdentifier Tag = "direct_identifier"
	QuasiIdentifier  Tag = "quasi_identifier"
	Sensitive        Tag = "sensitive"
	None             Tag = "none"
)

// Valid reports whether t is one of the four tags.
func (t Tag) Valid() bool {
	switch t {
	case DirectIdentifier, QuasiIdentifier, Sensitive, None:
		return true
	}
	return false
}

// rank orders tags by how much protection they need.
func (t Tag) rank() int {
	switch t {
	case DirectIdentifier:
		return 3
	case QuasiIdentifier:
		return 2
	case Sensitive:
		return 1
	}
	return 0
}

// Evidence is what a detector saw: counts only, never values.
type Evidence struct {
	Sampled  int  `json:"sampled"`   // non-empty values looked at
	Matched  int  `json:"matched"`   // values that fit the detector's pattern
	Rejected int  `json:"rejected"`  // values of the right shape whose check digit is wrong
	NameHint bool `json:"name_hint"` // the column name suggests the class
}

// Proposal is one detector's suggested tag for a column.
type Proposal struct {
	Column     string   `json:"column"`
	Tag        Tag      `json:"tag"`
	Detector   string   `json:"detector"`
	Confidence float64  `json:"confidence"` // 0..1
	Evidence   Evidence `json:"evidence"`
}

// Detector names.
const (
	DetResidentID = "resident_id"
	DetCreditCode = "credit_code"
	DetMobile     = "mobile"
	DetPersonName = "person_name"
	DetBirthDate  = "birth_date"
	DetGender     = "gender"
	DetAddress    = "address"
	DetEmployer   = "employer"
	DetSensitive  = "sensitive_name"
	DetNone       = "none"
)

// valueMatchShare is the share of sampled values that must match for a
// value-based detector to fire without a name hint: real columns carry some
// junk, but a column where a fifth of the values look like mobile numbers is
// still a column of mobile numbers.
const valueMatchShare = 0.6

// Detect runs every detector over one column and returns the strongest
// proposal (the most protective tag, then the highest confidence). A column
// nothing fires on gets Tag None with detector "none".
func Detect(column string, values []string) Proposal {
	all := DetectAll(column, values)
	if len(all) == 0 {
		return Proposal{Column: column, Tag: None, Detector: DetNone, Confidence: 1,
			Evidence: Evidence{Sampled: countNonEmpty(values)}}
	}
	return all[0]
}

// DetectAll returns every proposal that fired for the column, strongest first.
func DetectAll(column string, values []string) []Proposal {
	name := normName(column)
	var counts struct{ n, id, idBad, credit, mobile, pname, date, gender, addr, employer int }
	distinctNames := make(map[string]struct{}, 8)
	for _, raw := range values {
		v := strings.TrimSpace(raw)
		if v == "" {
			continue
		}
		counts.n++
		switch {
		case len(v) == 18 && isResidentShape(v):
			if ResidentIDValid(v) {
				counts.id++
			} else if _, err := identity.ValidateCreditCode(v); err == nil {
				counts.credit++
			} else {
				counts.idBad++
			}
			continue
		case len(v) == 18:
			if _, err := identity.ValidateCreditCode(v); err == nil {
				counts.credit++
				continue
			}
		}
		if IsMobile(v) {
			counts.mobile++
			continue
		}
		if IsDate(v) {
			counts.date++
			continue
		}
		if isGenderValue(v) {
			counts.gender++
			continue
		}
		if IsPersonName(v) {
			counts.pname++
			if len(distinctNames) < 8 {
				distinctNames[v] = struct{}{}
			}
			continue
		}
		if looksLikeAddress(v) {
			counts.addr++
		}
		if looksLikeEmployer(v) {
			counts.employer++
		}
	}
	var out []Proposal
	// add proposes tag when the values fit (share of sampled values at or
	// above valueShare; 0 means values alone never suffice) or the column
	// name hints at it; both together give the highest confidence.
	add := func(tag Tag, det string, matched, rejected int, hint bool, valueShare float64) {
		share := 0.0
		if counts.n > 0 {
			share = float64(matched+rejected) / float64(counts.n)
		}
		var conf float64
		switch {
		case hint && share >= valueMatchShare:
			conf = 0.7 + 0.3*share
		case valueShare > 0 && share >= valueShare:
			conf = 0.4 + 0.5*share
		case hint:
			conf = 0.7
			if counts.n > 0 && matched == 0 && tag != Sensitive {
				conf = 0.6 // the name says so, the values do not confirm it
			}
		default:
			return
		}
		if rejected > matched {
			conf -= 0.1
		}
		out = append(out, Proposal{Column: column, Tag: tag, Detector: det, Confidence: round2(min(conf, 1)),
			Evidence: Evidence{Sampled: counts.n, Matched: matched, Rejected: rejected, NameHint: hint}})
	}
	otherHint := hasHint(name, sensitiveHints) || hasHint(name, addressHints) || hasHint(name, employerHints)
	// A column of ID-shaped values is a direct identifier even when some
	// check digits are wrong: bad data about real people is still about them.
	add(DirectIdentifier, DetResidentID, counts.id, counts.idBad, hasHint(name, idHints), valueMatchShare)
	add(DirectIdentifier, DetCreditCode, counts.credit, 0, hasHint(name, creditHints), valueMatchShare)
	add(DirectIdentifier, DetMobile, counts.mobile, 0, hasHint(name, mobileHints), valueMatchShare)
	// Two Han characters after a common surname are also many ordinary
	// words; values alone count only when they are varied and the name
	// does not say the column is something else.
	nameShare := 0.0
	if !otherHint && len(distinctNames) >= 3 {
		nameShare = 0.8
	}
	add(DirectIdentifier, DetPersonName, counts.pname, 0, hasHint(name, nameHints), nameShare)
	add(QuasiIdentifier, DetBirthDate, counts.date, 0, hasHint(name, birthHints), 0) // dates alone are not birth dates
	add(QuasiIdentifier, DetGender, counts.gender, 0, hasHint(name, genderHints), 0.9)
	add(QuasiIdentifier, DetAddress, counts.addr, 0, hasHint(name, addressHints), 0.8)
	add(QuasiIdentifier, DetEmployer, counts.employer, 0, hasHint(name, employerHints), 0)
	if hasHint(name, sensitiveHints) {
		add(Sensitive, DetSensitive, 0, 0, true, 0)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Tag.rank() != out[j].Tag.rank() {
			return out[i].Tag.rank() > out[j].Tag.rank()
		}
		return out[i].Confidence > out[j].Confidence
	})
	// A weak identifier guess must not outrank a strong quasi or sensitive
	// one: keep the strongest, but only among confident proposals first.
	for i, p := range out {
		if p.Confidence >= 0.6 {
			if i > 0 {
				out[0], out[i] = out[i], out[0]
			}
			break
		}
	}
	return out
}

func round2(f float64) float64 { return float64(int(f*100+0.5)) / 100 }

func countNonEmpty(values []string) int {
	n := 0
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			n++
		}
	}
	return n
}

// normName lower-cases a column name and drops separators so that
// "ID_Card", "id card" and "idcard" compare alike.
func normName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r == '_' || r == '-' || r == ' ' || r == '.' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func hasHint(name string, hints []string) bool {
	for _, h := range hints {
		if strings.Contains(name, h) {
			return true
		}
	}
	return false
}

var (
	idHints        = []string{"身份证", "证件号", "公民身份号码", "idcard", "idno", "idnumber", "residentid", "sfzh", "citizenid"}
	creditHints    = []string{"统一社会信用代码", "信用代码", "creditcode", "uscc", "tyshxydm"}
	mobileHints    = []string{"手机", "电话", "联系方式", "mobile", "phone", "tel", "sjhm"}
	nameHints      = []string{"姓名", "名字", "联系人", "法定代表人", "personname", "fullname", "xm"}
	birthHints     = []string{"出生", "生日", "birth", "dob", "csrq"}
	genderHints    = []string{"性别", "gender", "sex", "xb"}
	addressHints   = []string{"地址", "住址", "住所", "户籍", "address", "addr", "zz"}
	employerHints  = []string{"工作单位", "单位名称", "雇主", "employer", "workunit", "company", "dwmc"}
	sensitiveHints = []string{"工资", "薪", "收入", "金额", "缴费", "缴存", "余额", "诊断", "病", "疾病", "医疗", "处罚", "犯罪",
		"salary", "wage", "income", "amount", "balance", "diagnos", "disease", "icd", "payment", "fee"}
)

// residentWeights and residentCheck are GB 11643-1999's check digit rule.
var residentWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const residentCheck = "10X98765432"

func isResidentShape(v string) bool {
	for i := 0; i < 17; i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	c := v[17]
	return (c >= '0' && c <= '9') || c == 'X' || c == 'x'
}

// ResidentIDValid reports whether v is an 18-character resident identity
// number (GB 11643) whose check digit is right and whose birth date is a
// real calendar date.
func ResidentIDValid(v string) bool {
	if len(v) != 18 || !isResidentShape(v) {
		return false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(v[i]-'0') * residentWeights[i]
	}
	c := v[17]
	if c == 'x' {
		c = 'X'
	}
	if residentCheck[sum%11] != c {
		return false
	}
	return validYMD(atoi(v[6:10]), atoi(v[10:12]), atoi(v[12:14]))
}

// ResidentCheckDigit returns the check character for the first 17 digits.
func ResidentCheckDigit(first17 string) byte {
	sum := 0
	for i := 0; i < 17 && i < len(first17); i++ {
		sum += int(first17[i]-'0') * residentWeights[i]
	}
	return residentCheck[sum%11]
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func validYMD(y, m, d int) bool {
	if y < 1850 || y > 2100 || m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days[2] = 29
	}
	return d <= days[m]
}

// IsMobile reports whether v is a mainland mobile number: 11 digits starting
// 13–19, optionally with a +86 or 86 prefix and spaces or dashes.
func IsMobile(v string) bool {
	var d [16]byte
	n := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(d) {
				return false
			}
			d[n] = c
			n++
		case c == ' ' || c == '-' || (c == '+' && i == 0):
		default:
			return false
		}
	}
	s := d[:n]
	if n == 13 && s[0] == '8' && s[1] == '6' {
		s = s[2:]
	}
	return len(s) == 11 && s[0] == '1' && s[1] >= '3' && s[1] <= '9'
}

// IsDate reports whether v is a calendar date written as YYYY-MM-DD,
// YYYY/MM/DD, YYYYMMDD or YYYY年M月D日 (a time part after a space is allowed).
func IsDate(v string) bool {
	if i := strings.IndexByte(v, ' '); i > 0 {
		v = v[:i]
	}
	if len(v) == 8 {
		return validYMD(atoi(v[:4]), atoi(v[4:6]), atoi(v[6:8]))
	}
	if v[0] < '0' || v[0] > '9' {
		return false
	}
	v = dateSeparators.Replace(v)
	p := strings.Split(v, "-")
	if len(p) != 3 || len(p[0]) != 4 || len(p[1]) == 0 || len(p[1]) > 2 || len(p[2]) == 0 || len(p[2]) > 2 {
		return false
	}
	return validYMD(atoi(p[0]), atoi(p[1]), atoi(p[2]))
}

// dateSeparators rewrites the separators of the date forms IsDate accepts.
var dateSeparators = strings.NewReplacer("年", "-", "月", "-", "日", "", "/", "-", ".", "-")

func isGenderValue(v string) bool {
	if len(v) > 6 {
		return false
	}
	switch strings.ToLower(v) {
	case "男", "女", "男性", "女性", "m", "f", "male", "female":
		return true
	}
	return false
}

// IsPersonName reports whether v looks like a Chinese person's name: a
// common surname (single or compound) followed by one to three Han
// characters, and nothing else.
func IsPersonName(v string) bool {
	n := utf8.RuneCountInString(v)
	if n < 2 || n > 5 {
		return false
	}
	for _, r := range v {
		if !unicode.Is(unicode.Han, r) {
			return false
		}
	}
	for _, s := range compoundSurnames {
		if strings.HasPrefix(v, s) {
			rest := utf8.RuneCountInString(v) - utf8.RuneCountInString(s)
			return rest >= 1 && rest <= 2
		}
	}
	first, size := utf8.DecodeRuneInString(v)
	if !surnameSet[first] {
		return false
	}
	rest := utf8.RuneCountInString(v[size:])
	return rest >= 1 && rest <= 3 && !looksLikeEmployer(v) && !looksLikeAddress(v)
}

// surnames holds the common single-character surnames (the top of the
// national household registration statistics, which cover most people).
const surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"

// surnameSet is surnames as a lookup table, built once.
var surnameSet = func() map[rune]bool {
	m := make(map[rune]bool, utf8.RuneCountInString(surnames))
	for _, r := range surnames {
		m[r] = true
	}
	return m
}()

var compoundSurnames = []string{"欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "令狐", "夏侯"}

func looksLikeAddress(v string) bool {
	if utf8.RuneCountInString(v) < 6 {
		return false
	}
	marks := 0
	for _, m := range []string{"省", "市", "区", "县", "镇", "乡", "街道", "路", "街", "号", "村", "栋", "室"} {
		if strings.Contains(v, m) {
			marks++
		}
	}
	return marks >= 2
}

func looksLikeEmployer(v string) bool {
	for _, s := range []string{"公司", "有限", "集团", "厂", "医院", "学校", "大学", "中心", "委员会", "局", "银行"} {
		if strings.HasSuffix(v, s) || (s == "有限" && strings.Contains(v, s)) {
			return true
		}
	}
	return false
}
