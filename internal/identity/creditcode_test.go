package identity

import (
	"testing"

	"github.com/gongshu/gongshu/internal/apperr"
)

// R3.1, R10.2: operators are legal persons identified by a valid unified social credit code.
func TestValidateCreditCode(t *testing.T) {
	valid := MakeCreditCode('9', '1', "360100", "MA35F7K2")
	cases := []struct {
		name, code, key string
	}{
		{"published example", "91350100M000100Y43", ""},
		{"minted", valid, ""},
		{"lower case accepted", "91350100m000100y43", ""},
		{"too short", "9135010", "identity.credit_code_length"},
		{"letter I not in set", "91350100I000100Y43", "identity.credit_code_char"},
		{"wrong final check", "91350100M000100Y44", "identity.credit_code_check"},
		{"wrong org-code check", "91350100M000100X43", "identity.credit_code_org_check"},
		{"chinese characters", "九一三五〇一〇〇M000100Y43", "identity.credit_code_char"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ValidateCreditCode(c.code)
			if c.key == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if len(got) != 18 {
					t.Fatalf("normalized %q", got)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Key != c.key || e.Code != apperr.Invalid {
				t.Fatalf("err = %v, want %s", err, c.key)
			}
		})
	}
}

func TestEveryMintedCodeValidates(t *testing.T) {
	for i := 0; i < 2000; i++ {
		body := []byte("00000000")
		n := i * 7919
		for j := 7; j >= 0; j-- {
			body[j] = "0123456789ABCDEFGHJKLMNPQRTUWXY"[n%31]
			n /= 31
		}
		code := MakeCreditCode('9', '1', "360700", string(body))
		if _, err := ValidateCreditCode(code); err != nil {
			t.Fatalf("%s: %v", code, err)
		}
	}
}

func FuzzValidateCreditCode(f *testing.F) {
	f.Add("91350100M000100Y43")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ValidateCreditCode(s)
		if err == nil {
			if len(got) != 18 {
				t.Fatalf("accepted %q as %q", s, got)
			}
			if again, err := ValidateCreditCode(got); err != nil || again != got {
				t.Fatalf("normalized code %q does not validate again", got)
			}
		}
	})
}
