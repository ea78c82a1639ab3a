package audit

import (
	"encoding/binary"
	"strconv"
	"time"
)

// leafMagic starts every leaf, naming the encoding and its version.
const leafMagic = "gongshu/audit-entry/v1\x00"

// TimeLayout is how an entry's time appears in its leaf: UTC, microseconds,
// fixed width. Entries are stored at microsecond precision so that SQLite
// and PostgreSQL hold the same instant and produce the same bytes.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// LeafBytes is the canonical encoding of an entry as a leaf of the Merkle
// tree (docs/audit-bundle.md): the magic, then thirteen fields in a fixed
// order, each as its byte length (unsigned LEB128 varint) followed by its
// UTF-8 bytes: id, time, actor user ID, actor login, actor organisation ID,
// action, object type, object ID, outcome, reason, details (the stored JSON
// text, byte for byte), request ID, remote address. Numbers are decimal;
// an absent user or organisation ID is the empty string.
func LeafBytes(e Entry, details string) []byte {
	return encodeLeaf([13]string{
		strconv.FormatInt(e.ID, 10),
		e.At.UTC().Format(TimeLayout),
		optionalID(e.Actor.UserID),
		e.Actor.Login,
		optionalID(e.Actor.OrgID),
		e.Action,
		e.ObjectType,
		e.ObjectID,
		string(e.Outcome),
		e.Reason,
		details,
		e.RequestID,
		e.RemoteAddr,
	})
}

// encodeLeaf writes the magic and the length-prefixed fields.
func encodeLeaf(fields [13]string) []byte {
	n := len(leafMagic)
	for _, f := range fields {
		n += binary.MaxVarintLen64 + len(f)
	}
	b := make([]byte, 0, n)
	b = append(b, leafMagic...)
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

func optionalID(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

// storedTime is the instant an entry is stored with.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
