package synth

// GB 11643-1999 citizen identity numbers: six-digit region code, eight-digit
// birth date, three-digit sequence (odd for men, even for women) and a
// check character computed by ISO 7064 MOD 11-2.

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const idCheckMap = "10X98765432"

// CheckDigit returns the GB 11643 check character for the first 17 digits,
// or 0 when first17 is not exactly 17 ASCII digits.
func CheckDigit(first17 string) byte {
	if len(first17) != 17 {
		return 0
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0
		}
		sum += int(c-'0') * idWeights[i]
	}
	return idCheckMap[sum%11]
}

// ValidID reports whether s is an 18-character identity number with a
// correct check character and a real calendar birth date. It does not
// check the region code: the synthetic population only uses Jiangxi codes,
// but a validator should not reject numbers issued elsewhere.
func ValidID(s string) bool {
	if len(s) != 18 || CheckDigit(s[:17]) != s[17] {
		return false
	}
	y := atoi(s[6:10])
	m := atoi(s[10:12])
	d := atoi(s[12:14])
	return y >= 1900 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m)
}

// idBirth reads the birth date of a number ValidID accepts.
func idBirth(s string) (y, m, d int) { return atoi(s[6:10]), atoi(s[10:12]), atoi(s[12:14]) }

// idMale reports the sex the 17th digit encodes: odd is male.
func idMale(s string) bool { return (s[16]-'0')%2 == 1 }

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// appendID appends an identity number for the region, birth date and
// sequence (0..999) to b.
func appendID(b []byte, regionCode string, y, m, d, seq int) []byte {
	start := len(b)
	b = append(b, regionCode...)
	b = appendPad(b, y, 4)
	b = appendPad(b, m, 2)
	b = appendPad(b, d, 2)
	b = appendPad(b, seq, 3)
	return append(b, CheckDigit(string(b[start:])))
}

func appendPad(b []byte, v, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for v > 0 || i == len(tmp) {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	for n := len(tmp) - i; n < width; n++ {
		b = append(b, '0')
	}
	return append(b, tmp[i:]...)
}
