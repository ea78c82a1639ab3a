package web

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/gongshu/gongshu/internal/apperr"
)

// Text that reaches the services is valid UTF-8 without NUL characters:
// PostgreSQL cannot store a NUL in text (it answered 500, and the audit
// entry of the attempt could not be written either) and SQLite would keep
// it silently. Both are refused at the edge with 400, audited (finding 9
// of issue 15): in the path and the query by the middleware, in forms by
// the page wrapper and the login and objection forms, in JSON bodies by
// decode. Uploaded files are data, not text, and are not checked here.

// cleanText reports whether s is valid UTF-8 without NUL.
func cleanText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// badText is the refusal of a value that is not clean text.
func badText(field string) error {
	e := apperr.New(apperr.Invalid, "web.bad_text")
	if field != "" {
		e = e.OnField(field)
	}
	return e
}

// checkValues refuses the first form or query value (or key) that is not
// clean text.
func checkValues(v url.Values) error {
	for k, vs := range v {
		if !cleanText(k) {
			return badText("")
		}
		for _, x := range vs {
			if !cleanText(x) {
				return badText(k)
			}
		}
	}
	return nil
}

// checkURL refuses a path or query that is not clean text once decoded.
func checkURL(r *http.Request) error {
	if !cleanText(r.URL.Path) {
		return badText("")
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		// Unreadable escapes: the handlers read what Go could parse.
		q = r.URL.Query()
	}
	return checkValues(q)
}

// checkDecoded refuses a decoded JSON body holding a string that is not
// clean text (JSON may spell NUL as \u0000, and Go's decoder replaces
// invalid UTF-8 silently, so the raw body is checked too by decode).
func checkDecoded(v reflect.Value, field string) error {
	switch v.Kind() {
	case reflect.String:
		if !cleanText(v.String()) {
			return badText(field)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return checkDecoded(v.Elem(), field)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			if !t.Field(i).IsExported() {
				continue
			}
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name == "" {
				name = field
			}
			if err := checkDecoded(v.Field(i), name); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return nil // bytes are data
		}
		for i := 0; i < v.Len(); i++ {
			if err := checkDecoded(v.Index(i), field); err != nil {
				return err
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if err := checkDecoded(it.Key(), field); err != nil {
				return err
			}
			if err := checkDecoded(it.Value(), field); err != nil {
				return err
			}
		}
	}
	return nil
}
