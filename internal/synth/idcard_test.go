package synth

import "testing"

// The expected check characters were worked out by hand with the
// standard's weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 and the mapping
// of (sum mod 11) 0..10 to 1 0 X 9 8 7 6 5 4 3 2.
func TestCheckDigit(t *testing.T) {
	tests := []struct {
		name    string
		first17 string
		want    byte
	}{
		// 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 mod 11 = 2 -> X
		{"standard example with X", "11010519491231002", 'X'},
		// 28+36+0+25+16+16+2+8+48+0+0+9+0+5+0+0+2 = 195; 195 mod 11 = 8 -> 4
		{"standard example with 4", "44052418800101001", '4'},
		// 21+54+0+5+0+8+2+9+54+0+0+9+0+5+8+8+6 = 189; 189 mod 11 = 2 -> X
		{"Nanchang Donghu", "36010219900101123", 'X'},
		// 0 everywhere: sum 0 -> 1
		{"all zeros", "00000000000000000", '1'},
		// 21+54+0+35+0+8+2+9+48+15+0+9+0+5+0+8+2 = 216; 216 mod 11 = 7 -> 5
		{"Ganzhou Zhanggong", "36070219850101021", '5'},
		{"too short", "3601021990010112", 0},
		{"not a digit", "3601021990010112A", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckDigit(tt.first17); got != tt.want {
				t.Errorf("CheckDigit(%q) = %q, want %q", tt.first17, got, tt.want)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"11010519491231002X", true},
		{"440524188001010014", false}, // check digit right, but born 1880 is before 1900
		{"360102199001011234", false}, // wrong check digit (X expected)
		{"36010219900101123X", true},
		{"36010219900101123x", false}, // lower-case x is not the standard's character
		{"360702198501010215", true},
		{"360702198501010217", false},
		{"36070219850101021", false},   // 17 characters
		{"3607021985010102177", false}, // 19 characters
		{"360102199002300000", false},  // 30 February, whatever the check digit
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := ValidID(tt.id); got != tt.want {
				t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
	// A real date with its right check digit passes; every other final
	// character is refused.
	first := "36010220000229000" // 29 February 2000, a leap day
	ok := string(CheckDigit(first))
	for _, c := range "0123456789X" {
		if got, want := ValidID(first+string(c)), string(c) == ok; got != want {
			t.Errorf("ValidID(%s%c) = %v, want %v", first, c, got, want)
		}
	}
}

// Identity numbers are unique by construction (idSpace), not by luck:
// 200,000 persons, where independent draws would collide dozens of times.
func TestPersonIDsUnique(t *testing.T) {
	w := newWorld(0.1, 3)
	seen := make(map[string]int64, w.nPerson)
	for i := range w.nPerson {
		p := w.person(i)
		if j, dup := seen[p.id]; dup {
			t.Fatalf("persons %d and %d share %s", j, i, p.id)
		}
		seen[p.id] = i
	}
}
