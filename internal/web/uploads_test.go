package web_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gongshu/gongshu/internal/app"
)

// xlsxWith builds a zip with the parts of an XLSX workbook whose part
// name gets size bytes of repetitive XML (it compresses to almost nothing).
func xlsxWith(t *testing.T, part string, size int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if name != part {
			io.WriteString(w, `<?xml version="1.0"?><x/>`)
			continue
		}
		chunk := bytes.Repeat([]byte("<si><t>AAAAAAAA</t></si>"), 4096)
		for n := 0; n < size; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Finding 7 of issue 15: decompression bombs are refused before the
// engine opens them, audited, leaving nothing in the upload area; a user
// may keep only so many uploads waiting for confirmation; files left in
// the upload area by an earlier run are removed at start.
func TestUploadBombsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "uploads"), 0o750); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, "uploads", "left-by-a-crash.csv")
	if err := os.WriteFile(left, []byte("a,b\n1,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, false, func(c *app.Config) { c.DataDir = dir })
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("a file of an earlier run is still in the upload area: %v", err)
	}
	it := e.registeredPool(1)[0]
	tok := e.account("dept.amr").Token
	for name, tc := range map[string]struct {
		body []byte
		key  string
	}{
		// One huge shared string (the 300 MB cell), 65 MB here.
		"shared strings": {xlsxWith(t, "xl/sharedStrings.xml", 65<<20), "XLSX 文件解压后过大"},
		// A sheet that decompresses to millions of rows.
		"ratio":     {xlsxWith(t, "xl/worksheets/sheet1.xml", 260<<20), "压缩比异常"},
		"not a zip": {[]byte("PK\x03\x04 not really"), "无法读取该 XLSX 文件"},
	} {
		before := e.count("audit_entries")
		r := e.upload(fmt.Sprintf("/api/v1/resources/%d/previews?name=bomb.xlsx", it.ID), tok, "application/octet-stream", bytes.NewReader(tc.body))
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, tc.key) {
			t.Errorf("%s: %d %.300s", name, r.status, r.body)
		}
		if e.count("audit_entries") <= before {
			t.Errorf("%s: refusal not audited", name)
		}
	}
	if es, _ := os.ReadDir(filepath.Join(dir, "uploads")); len(es) != 0 {
		t.Errorf("%d files left in the upload area", len(es))
	}
	// The staging quota: five uploads waiting, the sixth refused.
	page := fmt.Sprintf("/console/registry/%d/data", it.ID)
	c := e.client()
	c.mustLogin("dept.amr")
	csrf := c.csrf(page)
	for i := 0; i < 6; i++ {
		ct, body := multipartForm(t, [][2]string{{"csrf_token", csrf}, {"format", "auto"}}, "ent.csv", enterpriseCSV)
		r := c.do("POST", page+"/upload", body, map[string]string{"Content-Type": ct})
		switch {
		case i < 5 && r.status != http.StatusOK:
			t.Fatalf("upload %d: %d", i, r.status)
		case i == 5 && (r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "待确认的上传已达上限")):
			t.Errorf("upload over the quota: %d", r.status)
		}
	}
	if es, _ := os.ReadDir(filepath.Join(dir, "uploads")); len(es) != 5 {
		t.Errorf("%d files staged, want 5", len(es))
	}
}
