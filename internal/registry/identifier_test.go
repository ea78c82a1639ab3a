package registry

import (
	"math/rand/v2"
	"testing"

	"github.com/gongshu/gongshu/internal/apperr"
)

func TestIdentifierRoundTrip(t *testing.T) {
	cases := []struct {
		kind   Kind
		region string
		year   int
		serial int
	}{
		{KindResource, "360000", 2026, 1},
		{KindProduct, "360100", 2026, 42},
		{KindResource, "361102", 2025, 9999999},
	}
	for _, c := range cases {
		code := MakeIdentifier(c.kind, c.region, c.year, c.serial)
		if len(code) != 19 {
			t.Fatalf("%s: length %d", code, len(code))
		}
		id, err := ParseIdentifier(code)
		if err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		if id.Kind != c.kind || id.Region != c.region || id.Year != c.year || id.Serial != c.serial {
			t.Errorf("%s parsed as %+v", code, id)
		}
	}
}

// The check character catches every single-digit substitution and every
// swap of two different adjacent digits.
func TestIdentifierCheckCatchesErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 2000; n++ {
		code := MakeIdentifier(KindResource, "3601"+string(rune('0'+r.IntN(10)))+"1", 2025+r.IntN(2), 1+r.IntN(9999998))
		b := []byte(code)
		i := r.IntN(18)
		orig := b[i]
		b[i] = byte('0' + (int(orig-'0')+1+r.IntN(9))%10)
		if _, err := ParseIdentifier(string(b)); !apperr.IsCode(err, apperr.Invalid) {
			t.Fatalf("substitution %s → %s accepted", code, b)
		}
		b[i] = orig
		j := r.IntN(18)
		if b[j] != b[j+1] {
			b[j], b[j+1] = b[j+1], b[j]
			if _, err := ParseIdentifier(string(b)); err == nil {
				t.Fatalf("transposition %s → %s accepted", code, b)
			}
		}
	}
}

func TestParseIdentifierRefusals(t *testing.T) {
	good := MakeIdentifier(KindProduct, "360000", 2026, 7)
	cases := map[string]string{
		"":                               "registry.identifier_malformed",
		good[:18]:                        "registry.identifier_malformed",
		"3" + good[1:]:                   "registry.identifier_malformed",
		good[:5] + "A" + good[6:]:        "registry.identifier_malformed",
		good[:18] + wrongCheck(good[18]): "registry.identifier_check",
	}
	for in, key := range cases {
		_, err := ParseIdentifier(in)
		ae, ok := apperr.As(err)
		if !ok || ae.Key != key {
			t.Errorf("ParseIdentifier(%q) = %v, want %s", in, err, key)
		}
	}
	// A lower-case x and surrounding spaces are forgiven.
	if _, err := ParseIdentifier("  " + good + " "); err != nil {
		t.Error(err)
	}
}

func wrongCheck(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}
