package registry

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gongshu/gongshu/internal/apperr"
)

// Kind is the registration type the identifier's first character carries.
type Kind string

const (
	KindResource Kind = "resource" // 1: public data resource (公共数据资源)
	KindProduct  Kind = "product"  // 2: data product or service (数据产品和服务)
)

func (k Kind) digit() byte {
	if k == KindProduct {
		return '2'
	}
	return '1'
}

// An identifier (登记编号) is 19 characters, fixed at registration and
// never changed or reused, even after cancellation:
//
//	T RRRRRR YYYY SSSSSSS C
//	│ │      │    │       └ check character, ISO 7064 MOD 11-2 over the 18 digits before it
//	│ │      │    └ serial within (type, region, year), from 0000001
//	│ │      └ year of submission
//	│ └ GB/T 2260 code of the holder's region
//	└ 1 public data resource, 2 product or service
//
// MOD 11-2 is the scheme of the resident ID number (GB 11643), familiar to
// every clerk: a prime modulus with distinct weights catches every
// single-digit error and every swap of adjacent digits, and the check
// character is a digit or X. docs/identifiers.md describes it for others.
const idLen = 19

// checkChar computes the MOD 11-2 check character of a string of digits.
func checkChar(payload string) byte {
	p := 0
	for i := 0; i < len(payload); i++ {
		p = ((p + int(payload[i]-'0')) * 2) % 11
	}
	c := (12 - p) % 11
	if c == 10 {
		return 'X'
	}
	return byte('0' + c)
}

// MakeIdentifier builds the identifier of the serial-th registration of
// kind in region and year.
func MakeIdentifier(kind Kind, region string, year, serial int) string {
	payload := fmt.Sprintf("%c%s%04d%07d", kind.digit(), region, year, serial)
	return payload + string(checkChar(payload))
}

// Identifier is a parsed identifier.
type Identifier struct {
	Kind   Kind
	Region string
	Year   int
	Serial int
}

// ParseIdentifier checks an identifier's shape and check character. It is
// what the public lookup runs before touching the store, so a mistyped
// identifier is told apart from an unknown one.
func ParseIdentifier(s string) (Identifier, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	bad := apperr.New(apperr.Invalid, "registry.identifier_malformed", "code", s).OnField("code")
	if len(s) != idLen {
		return Identifier{}, bad
	}
	for i := 0; i < idLen-1; i++ {
		if s[i] < '0' || s[i] > '9' {
			return Identifier{}, bad
		}
	}
	var id Identifier
	switch s[0] {
	case '1':
		id.Kind = KindResource
	case '2':
		id.Kind = KindProduct
	default:
		return Identifier{}, bad
	}
	if checkChar(s[:idLen-1]) != s[idLen-1] {
		return Identifier{}, apperr.New(apperr.Invalid, "registry.identifier_check", "code", s).OnField("code")
	}
	id.Region = s[1:7]
	id.Year, _ = strconv.Atoi(s[7:11])
	id.Serial, _ = strconv.Atoi(s[11:18])
	return id, nil
}
