package web

import (
	"archive/zip"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/supply"
)

// Uploads are bounded before the engine reads them (finding 7 of issue
// 15: a 0.3 MB XLSX with one 300 MB cell took 2 GB of memory, a 2.4 MB
// one became 38 million rows, and staged files piled up in uploads/):
//
//   - an XLSX file is a zip: its declared decompressed size, that of each
//     part, that of the shared-string table (which the reader holds in
//     memory whole) and its compression ratio are capped before it is
//     opened;
//   - one user may keep at most stagedPerUser uploads, stagedBytesPerUser
//     in all, waiting for confirmation;
//   - staged files are removed when they expire and, since staging lives
//     in the process, every file left in the upload area is removed when
//     the server starts.
//
// Refusals are audited like any other.
const (
	xlsxMaxDecompressed  = 4 << 30   // all parts together
	xlsxMaxPart          = 2 << 30   // one worksheet
	xlsxMaxSharedStrings = 64 << 20  // the shared-string table, read whole
	xlsxMaxRatio         = 200       // decompressed : compressed, above xlsxRatioFloor
	xlsxRatioFloor       = 256 << 20 // small files may compress as they like
	stagedPerUser        = 5
	stagedBytesPerUser   = 16 << 30
)

// checkXLSX refuses an XLSX file whose decompressed parts pass the caps,
// reading only the zip's directory.
func checkXLSX(path string) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return apperr.New(apperr.Invalid, "supply.xlsx_unreadable").Wrap(err)
	}
	defer zr.Close()
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	var total uint64
	for _, f := range zr.File {
		size := f.UncompressedSize64
		total += size
		name := strings.ToLower(f.Name)
		switch {
		case strings.HasSuffix(name, "sharedstrings.xml") && size > xlsxMaxSharedStrings:
			return apperr.New(apperr.Invalid, "supply.xlsx_too_large", "what", "sharedStrings", "max", mib(xlsxMaxSharedStrings))
		case size > xlsxMaxPart:
			return apperr.New(apperr.Invalid, "supply.xlsx_too_large", "what", f.Name, "max", mib(xlsxMaxPart))
		}
	}
	if total > xlsxMaxDecompressed {
		return apperr.New(apperr.Invalid, "supply.xlsx_too_large", "what", "*", "max", mib(xlsxMaxDecompressed))
	}
	if total > xlsxRatioFloor && fi.Size() > 0 && total/uint64(fi.Size()) > xlsxMaxRatio {
		return apperr.New(apperr.Invalid, "supply.xlsx_bomb", "ratio", strconv.FormatUint(total/uint64(fi.Size()), 10))
	}
	return nil
}

func mib(n int64) string { return strconv.FormatInt(n>>20, 10) }

// checkStagedFile refuses a saved upload the engine must not open.
func checkStagedFile(src supply.Source) error {
	if src.Format == supply.XLSX {
		return checkXLSX(src.Path)
	}
	return nil
}

// staging returns how many uploads, and how many bytes, userID has
// waiting for confirmation.
func (l *loads) staging(userID int64) (int, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, b := 0, int64(0)
	for _, st := range l.staged {
		if st.userID == userID {
			n++
			b += st.size
		}
	}
	return n, b
}

// stagingRoom is how many bytes userID may still upload for staging, or
// a refusal when none.
func (l *loads) stagingRoom(userID int64) (int64, error) {
	n, b := l.staging(userID)
	if n >= stagedPerUser || b >= stagedBytesPerUser {
		return 0, apperr.New(apperr.Invalid, "supply.staging_quota", "files", strconv.Itoa(stagedPerUser),
			"gib", strconv.Itoa(stagedBytesPerUser>>30))
	}
	return stagedBytesPerUser - b, nil
}

// sweep forgets, and deletes, the uploads nobody confirmed in time.
func (l *loads) sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, old := range l.staged {
		if now.Sub(old.at) > stagedTTL {
			removeUpload(old.src)
			delete(l.staged, id)
		}
	}
}

// clearUploadArea removes the files a previous run of the process left in
// the upload area: staging is in memory, so nobody can confirm them.
func clearUploadArea(dir string) (int, error) {
	if dir == "" {
		return 0, nil
	}
	es, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("upload area: %w", err)
	}
	n := 0
	for _, e := range es {
		if e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err == nil {
				n++
			}
		}
	}
	return n, nil
}

// SweepStaged deletes the uploads nobody confirmed within a day; the
// process calls it periodically.
func (s *Server) SweepStaged() { s.loads.sweep(s.now()) }
