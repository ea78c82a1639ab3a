package identity

import (
	"strings"

	"github.com/gongshu/gongshu/internal/apperr"
)

// The unified social credit code (统一社会信用代码, GB 32100-2015) is 18
// characters: registration authority (1), organisation category (1),
// administrative region (6), organisation code (9, GB 11714, itself ending
// in a check character) and a check character over the first 17.
const creditCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY" // 31 symbols: no I, O, S, V, Z

var creditWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// orgCodeWeights are GB 11714's weights for the 8 body characters of the
// organisation code inside the credit code.
var orgCodeWeights = [8]int{3, 7, 9, 10, 5, 8, 4, 2}

// CreditCodeCheck computes the 18th character for the first 17. It reports
// false when a character is outside the GB 32100 set.
func CreditCodeCheck(first17 string) (byte, bool) {
	if len(first17) != 17 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(creditCharset, first17[i])
		if v < 0 {
			return 0, false
		}
		sum += v * creditWeights[i]
	}
	return creditCharset[(31-sum%31)%31], true
}

// OrgCodeCheck computes the 9th character of a GB 11714 organisation code
// from its first 8 characters (digits or capital letters).
func OrgCodeCheck(body8 string) (byte, bool) {
	if len(body8) != 8 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 8; i++ {
		c := body8[i]
		var v int
		switch {
		case c >= '0' && c <= '9':
			v = int(c - '0')
		case c >= 'A' && c <= 'Z':
			v = int(c-'A') + 10
		default:
			return 0, false
		}
		sum += v * orgCodeWeights[i]
	}
	switch r := 11 - sum%11; r {
	case 10:
		return 'X', true
	case 11:
		return '0', true
	default:
		return byte('0' + r), true
	}
}

// ValidateCreditCode checks a unified social credit code: length, character
// set, the organisation code's own check character and the final check
// character. Lower-case letters are accepted and reported upper-cased.
func ValidateCreditCode(code string) (string, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if n := len([]rune(code)); n != 18 {
		return "", apperr.New(apperr.Invalid, "identity.credit_code_length", "code", code, "n", itoa(n)).OnField("credit_code")
	}
	for i, r := range []rune(code) {
		if r > 0x7f || strings.IndexByte(creditCharset, byte(r)) < 0 {
			return "", apperr.New(apperr.Invalid, "identity.credit_code_char",
				"code", code, "pos", itoa(i+1), "char", string(r)).OnField("credit_code")
		}
	}
	if want, ok := OrgCodeCheck(code[8:16]); !ok || want != code[16] {
		return "", apperr.New(apperr.Invalid, "identity.credit_code_org_check", "code", code).OnField("credit_code")
	}
	if want, _ := CreditCodeCheck(code[:17]); want != code[17] {
		return "", apperr.New(apperr.Invalid, "identity.credit_code_check", "code", code).OnField("credit_code")
	}
	return code, nil
}

// MakeCreditCode builds a valid code from the registration authority and
// category characters, a region code and an 8-character organisation body;
// the demo and tests use it to mint codes that pass every check.
func MakeCreditCode(authority, category byte, regionCode, body8 string) string {
	oc, _ := OrgCodeCheck(body8)
	first := string([]byte{authority, category}) + regionCode + body8 + string(oc)
	cc, _ := CreditCodeCheck(first)
	return first + string(cc)
}
