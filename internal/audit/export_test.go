package audit

// ChainLink exposes the leaf chain's link function to the external tests,
// which forge links as an insider with the database would.
func ChainLink(s Suite, prev, leaf []byte) []byte { return s.chainLink(prev, leaf) }
