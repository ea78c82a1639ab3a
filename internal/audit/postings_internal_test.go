package audit

import (
	"slices"
	"testing"
)

func TestPostingIDsRoundTrip(t *testing.T) {
	for _, ids := range [][]int64{{1}, {1, 2, 3}, {5, 300, 301, 1 << 40}, {127, 128, 16383, 16384}} {
		got, err := decodeIDs(encodeIDs(ids))
		if err != nil || !slices.Equal(got, ids) {
			t.Errorf("%v: round trip gave %v, %v", ids, got, err)
		}
	}
	// A blob that repeats an ID, or ends inside a varint, is refused.
	for _, bad := range [][]byte{{5, 0}, {0x80}} {
		if _, err := decodeIDs(bad); err == nil {
			t.Errorf("%x: decoded", bad)
		}
	}
}
