package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/gongshu/gongshu/internal/governance"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/pii"
	"github.com/gongshu/gongshu/internal/registry"
	"github.com/gongshu/gongshu/internal/supply"
)

// Bringing a department's data into the domain over HTTP: an upload (or a
// PostgreSQL source) is staged, previewed for the department to confirm,
// then loaded as the resource's next immutable version in the background
// with its progress on the page; column tags and the privacy unit are
// confirmed by a person with a reason. The JSON API does the same in one
// call per step. The data itself is shown only in the preview, to the
// holding department, before it is loaded.

// maxUploadBytes bounds one upload; the 1 GB files of the ingest
// benchmark fit with room to spare.
const maxUploadBytes = 8 << 30

// stagedTTL is how long an upload waits for its confirmation.
const stagedTTL = 24 * time.Hour

// staged is a source received and previewed but not yet loaded.
type staged struct {
	id         string
	resourceID int64
	userID     int64
	src        supply.Source
	name       string
	size       int64
	at         time.Time
}

// loadJob is one background load the console shows.
type loadJob struct {
	id         string
	resourceID int64
	userID     int64
	name       string
	size       int64
	bytes      atomic.Int64
	rows       atomic.Int64
	started    time.Time
	mu         sync.Mutex
	done       bool
	err        error
	version    supply.Version
}

func (j *loadJob) finish(v supply.Version, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.done, j.version, j.err = true, v, err
}

// loads keeps staged sources and running or recent loads of this process.
type loads struct {
	dir    string
	mu     sync.Mutex
	staged map[string]*staged
	jobs   map[string]*loadJob
}

func newLoads(dir string) *loads {
	return &loads{dir: dir, staged: map[string]*staged{}, jobs: map[string]*loadJob{}}
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// stage records a source for its uploader to confirm, and forgets (and
// deletes) uploads nobody confirmed in time.
func (l *loads) stage(st *staged) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, old := range l.staged {
		if st.at.Sub(old.at) > stagedTTL {
			removeUpload(old.src)
			delete(l.staged, id)
		}
	}
	for id, j := range l.jobs {
		j.mu.Lock()
		stale := j.done && st.at.Sub(j.started) > stagedTTL
		j.mu.Unlock()
		if stale {
			delete(l.jobs, id)
		}
	}
	st.id = randomID()
	l.staged[st.id] = st
}

// take removes and returns a staged source, only for the user who staged
// it and for the same resource.
func (l *loads) take(id string, userID, resourceID int64) *staged {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.staged[id]
	if st == nil || st.userID != userID || st.resourceID != resourceID {
		return nil
	}
	delete(l.staged, id)
	return st
}

func (l *loads) job(id string, userID int64) *loadJob {
	l.mu.Lock()
	defer l.mu.Unlock()
	j := l.jobs[id]
	if j == nil || j.userID != userID {
		return nil
	}
	return j
}

func (l *loads) running(resourceID int64) []*loadJob {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*loadJob
	for _, j := range l.jobs {
		if j.resourceID == resourceID {
			out = append(out, j)
		}
	}
	return out
}

func removeUpload(src supply.Source) {
	if src.Path != "" {
		_ = os.Remove(src.Path)
	}
}

// formatOf picks a file's format from its declared format or its name.
func formatOf(declared, name string) (supply.Format, error) {
	f := strings.ToLower(strings.TrimSpace(declared))
	if f == "" || f == "auto" {
		switch strings.ToLower(filepath.Ext(name)) {
		case ".csv", ".txt", ".tsv":
			f = "csv"
		case ".xlsx":
			f = "xlsx"
		case ".parquet":
			f = "parquet"
		}
	}
	switch supply.Format(f) {
	case supply.CSV, supply.XLSX, supply.Parquet:
		return supply.Format(f), nil
	}
	return "", apperr.New(apperr.Invalid, "supply.bad_format", "name", name).OnField("format")
}

// saveUpload streams r into a new file of the upload area.
func (l *loads) saveUpload(r io.Reader, name string) (string, int64, error) {
	if err := os.MkdirAll(l.dir, 0o750); err != nil {
		return "", 0, fmt.Errorf("upload area: %w", err)
	}
	ext := strings.ToLower(filepath.Ext(name))
	if len(ext) > 10 {
		ext = ""
	}
	path := filepath.Join(l.dir, randomID()+ext)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", 0, fmt.Errorf("upload area: %w", err)
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", 0, apperr.New(apperr.Invalid, "supply.upload_too_large", "max", strconv.Itoa(maxUploadBytes>>30)).Wrap(err)
		}
		return "", 0, apperr.New(apperr.Invalid, "supply.upload_interrupted").Wrap(err)
	}
	if n == 0 {
		_ = os.Remove(path)
		return "", 0, apperr.New(apperr.Invalid, "supply.upload_empty").OnField("file")
	}
	return path, n, nil
}

// sourceInput is a PostgreSQL source named in a form or a JSON body.
type sourceInput struct {
	Format string `json:"format"`
	URL    string `json:"url"`
	Table  string `json:"table"`
}

func (in sourceInput) source() (supply.Source, error) {
	if in.Format != "" && in.Format != string(supply.Postgres) {
		return supply.Source{}, apperr.New(apperr.Invalid, "supply.json_source_postgres_only").OnField("format")
	}
	if !strings.HasPrefix(in.URL, "postgres://") && !strings.HasPrefix(in.URL, "postgresql://") {
		return supply.Source{}, apperr.New(apperr.Invalid, "supply.bad_source_url").OnField("url")
	}
	if strings.TrimSpace(in.Table) == "" {
		return supply.Source{}, apperr.New(apperr.Invalid, "supply.table_required").OnField("table")
	}
	return supply.Source{Format: supply.Postgres, URL: in.URL, Table: strings.TrimSpace(in.Table)}, nil
}

// apiSource reads a load or preview request: a JSON body names a
// PostgreSQL source; any other body is the file itself, its format from
// ?format= or the extension of ?name=.
func (s *Server) apiSource(w http.ResponseWriter, r *http.Request, p *identity.Principal, action string, id int64) (supply.Source, bool) {
	deny := func(err error) (supply.Source, bool) {
		s.deny(w, r, action, "resource", strconv.FormatInt(id, 10), err)
		return supply.Source{}, false
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		var in sourceInput
		if err := decode(r, &in); err != nil {
			return deny(err)
		}
		src, err := in.source()
		if err != nil {
			return deny(err)
		}
		return src, true
	}
	// Refuse before reading a large body the caller may not send.
	if !s.supply.MayHandle(r.Context(), *p, id) {
		return deny(apperr.New(apperr.Forbidden, "identity.forbidden", "action", action))
	}
	q := r.URL.Query()
	name := q.Get("name")
	if name == "" {
		name = "upload." + q.Get("format")
	}
	format, err := formatOf(q.Get("format"), name)
	if err != nil {
		return deny(err)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxUploadBytes)
	path, _, err := s.loads.saveUpload(r.Body, name)
	if err != nil {
		return deny(err)
	}
	src := supply.Source{Format: format, Path: path, Sheet: q.Get("sheet"), Delimiter: q.Get("delimiter")}
	if err := checkStagedFile(src); err != nil {
		removeUpload(src)
		return deny(err)
	}
	return src, true
}

// uploadAPI is the API wrapper for endpoints whose body is a file: the
// body limit is the upload limit, not the form limit.
func (s *Server) uploadAPI(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := s.requireLogin(w, r)
		if p == nil {
			return
		}
		if !s.checkCSRF(w, r, p, r.Header.Get("X-CSRF-Token")) {
			return
		}
		h(w, r, p)
	}
}

func (s *Server) apiSupplyPreview(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	src, ok := s.apiSource(w, r, p, supply.ActionPreview, id)
	if !ok {
		return
	}
	defer removeUpload(src)
	pv, err := s.supply.Preview(r.Context(), *p, id, src)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pv)
}

func (s *Server) apiSupplyLoad(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	src, ok := s.apiSource(w, r, p, supply.ActionLoad, id)
	if !ok {
		return
	}
	defer removeUpload(src)
	v, err := s.supply.Load(r.Context(), *p, id, src, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

// visibleResource returns the registered item when p may see it (anyone,
// for a public one) and it is a resource.
func (s *Server) visibleResource(ctx context.Context, p identity.Principal, id int64) (registry.Item, error) {
	it, err := s.reg.Get(ctx, p, id)
	if err != nil {
		return it, err
	}
	if it.Kind != registry.KindResource {
		return it, apperr.New(apperr.NotFound, "supply.not_a_resource")
	}
	return it, nil
}

// apiSupplyVersions lists a resource's data versions: what was loaded,
// when, how many rows, and the source's hash; never values.
func (s *Server) apiSupplyVersions(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := optionalPrincipal(r)
	if _, err := s.visibleResource(r.Context(), p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	vs, err := s.supply.Versions(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]publicVersion, 0, len(vs))
	for _, v := range vs {
		out = append(out, publicOf(v))
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": out})
}

// publicVersion is a data version as anyone may see it: who loaded it is
// the department's business.
type publicVersion struct {
	Version  int             `json:"version"`
	Format   supply.Format   `json:"format"`
	Rows     int64           `json:"rows"`
	Bytes    int64           `json:"bytes"`
	SHA256   string          `json:"sha256"`
	Columns  []supply.Column `json:"columns"`
	LoadedAt time.Time       `json:"loaded_at"`
}

func publicOf(v supply.Version) publicVersion {
	return publicVersion{Version: v.Version, Format: v.Format, Rows: v.Rows, Bytes: v.Bytes, SHA256: v.SHA256, Columns: v.Columns, LoadedAt: v.LoadedAt}
}

func (s *Server) apiSupplyTags(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.visibleResource(r.Context(), *p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	tags, err := s.supply.Tags(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	unit, err := s.supply.PrivacyUnit(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if tags == nil {
		tags = []supply.ColumnTag{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tags": tags, "privacy_unit": unit})
}

type tagInput struct {
	Column string  `json:"column"`
	Tag    pii.Tag `json:"tag"`
	Reason string  `json:"reason"`
}

func (s *Server) apiSupplyConfirmTag(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in tagInput
	if err := decode(r, &in); err != nil {
		s.deny(w, r, supply.ActionConfirmTag, "resource", strconv.FormatInt(id, 10), err)
		return
	}
	if err := s.supply.ConfirmTag(r.Context(), *p, id, in.Column, in.Tag, in.Reason); err != nil {
		s.fail(w, r, err)
		return
	}
	tags, err := s.supply.TagHistory(r.Context(), id, in.Column)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, tags[len(tags)-1])
}

type unitInput struct {
	Column string `json:"column"`
	Reason string `json:"reason"`
}

func (s *Server) apiSupplyPrivacyUnit(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in unitInput
	if err := decode(r, &in); err != nil {
		s.deny(w, r, supply.ActionSetPrivacyUnit, "resource", strconv.FormatInt(id, 10), err)
		return
	}
	if err := s.supply.SetPrivacyUnit(r.Context(), *p, id, in.Column, in.Reason); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"privacy_unit": in.Column})
}

// Console.

type supplyPageData struct {
	Item      registry.Item
	CanHandle bool
	Versions  []supply.Version
	Latest    *supply.Version
	Profiles  []supply.ColumnProfile
	Tags      []supply.ColumnTag
	Unit      string
	Jobs      []jobView
	Preview   *supply.Preview
	StagedID  string
	Staged    string
	Error     string
	Tag       []pii.Tag
	// HasQuality links the quality page (the process has a domain).
	HasQuality bool
	// Shared is the providing unit of shared data (R5.3), whose consent
	// is recorded here; Exclusion says why the resource is out of
	// authorized operation now, if it is.
	Shared    *registry.SharedFrom
	Consents  []governance.Consent
	Exclusion *governance.Exclusion
}

// jobView is a load as the page shows it.
type jobView struct {
	ID      string
	Name    string
	Size    int64
	Bytes   int64
	Rows    int64
	Percent int
	Done    bool
	Error   string
	Version int
	Started time.Time
}

func (s *Server) supplyPageData(r *http.Request, p *identity.Principal, id int64) (*supplyPageData, error) {
	ctx := r.Context()
	it, err := s.visibleResource(ctx, *p, id)
	if err != nil {
		return nil, err
	}
	d := &supplyPageData{Item: it, CanHandle: s.supply.MayHandle(ctx, *p, id), HasQuality: s.quality != nil,
		Tag: []pii.Tag{pii.DirectIdentifier, pii.QuasiIdentifier, pii.Sensitive, pii.None}}
	// The jobs are read before the versions: a job is marked done only
	// after its version committed, so a job shown done always has its
	// version on the page too (read the other way round, a load that
	// finished in between showed "done, v1" above "no data loaded yet").
	for _, j := range s.loads.running(id) {
		if j.userID != p.UserID && !d.CanHandle {
			continue
		}
		j.mu.Lock()
		v := jobView{ID: j.id, Name: j.name, Size: j.size, Bytes: j.bytes.Load(), Rows: j.rows.Load(), Done: j.done,
			Version: j.version.Version, Started: j.started}
		if j.err != nil {
			_, v.Error, _ = s.message(r, j.err)
		}
		j.mu.Unlock()
		if v.Size > 0 {
			v.Percent = int(min(100, v.Bytes*100/v.Size))
		}
		d.Jobs = append(d.Jobs, v)
	}
	if d.Versions, err = s.supply.Versions(ctx, id); err != nil {
		return nil, err
	}
	if n := len(d.Versions); n > 0 {
		d.Latest = &d.Versions[n-1]
		// Profiles hold frequent values of non-identifying columns: the
		// department's own business.
		if d.CanHandle {
			if d.Profiles, err = s.supply.Profiles(ctx, d.Latest.ID); err != nil {
				return nil, err
			}
		}
	}
	if f, _, err := it.Forms(); err == nil && f != nil && f.SharedOrigin != nil {
		d.Shared = f.SharedOrigin
		if d.Consents, err = s.gov.Consents(ctx, id); err != nil {
			return nil, err
		}
	}
	if d.Exclusion, err = s.gov.Exclude(ctx, id, s.now()); err != nil {
		return nil, err
	}
	if d.Tags, err = s.supply.Tags(ctx, id); err != nil {
		return nil, err
	}
	if d.Unit, err = s.supply.PrivacyUnit(ctx, id); err != nil {
		return nil, err
	}
	return d, nil
}

// Refresh is how often the data page reloads itself while a load runs.
func (d *supplyPageData) Refresh() bool {
	for _, j := range d.Jobs {
		if !j.Done {
			return true
		}
	}
	return false
}

func (s *Server) supplyPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.supplyPageData(r, p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "supply", d)
}

// supplyFormError re-renders the data page with a message for errors a
// person can fix, and fails otherwise.
func (s *Server) supplyFormError(w http.ResponseWriter, r *http.Request, p *identity.Principal, id int64, err error) {
	code, msg, _ := s.message(r, err)
	if code != apperr.Invalid && code != apperr.Conflict && code != apperr.NotFound {
		s.fail(w, r, err)
		return
	}
	d, derr := s.supplyPageData(r, p, id)
	if derr != nil {
		s.fail(w, r, derr)
		return
	}
	d.Error = msg
	s.render(w, r, http.StatusUnprocessableEntity, "supply", d)
}

// supplyUpload receives a file from the console's form, streamed to the
// upload area part by part (the CSRF field comes first), then shows the
// preview. A PostgreSQL source (url and table fields) is previewed the
// same way without a file.
func (s *Server) supplyUpload(w http.ResponseWriter, r *http.Request) {
	p := s.requireLogin(w, r)
	if p == nil {
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	deny := func(err error) {
		s.audit.Refuse(r.Context(), actionEntry(p, supply.ActionPreview, "resource", id), err)
		s.supplyFormError(w, r, p, id, err)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxUploadBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		deny(apperr.New(apperr.Invalid, "web.form_unreadable").Wrap(err))
		return
	}
	fields := map[string]string{}
	var src supply.Source
	var name string
	var size int64
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			removeUpload(src)
			deny(apperr.New(apperr.Invalid, "supply.upload_interrupted").Wrap(err))
			return
		}
		if part.FormName() != "file" {
			v, err := io.ReadAll(io.LimitReader(part, 4096))
			if err != nil {
				removeUpload(src)
				deny(apperr.New(apperr.Invalid, "web.form_unreadable").Wrap(err))
				return
			}
			fields[part.FormName()] = string(v)
			continue
		}
		// The token precedes the file in the form, so nothing is written
		// to disk for a forged request.
		if !s.checkCSRF(w, r, p, fields["csrf_token"]) {
			return
		}
		if part.FileName() == "" {
			continue
		}
		if !s.supply.MayHandle(r.Context(), *p, id) {
			deny(apperr.New(apperr.Forbidden, "identity.forbidden", "action", supply.ActionPreview))
			return
		}
		// The staging quota bounds the file while it streams in.
		room, err := s.loads.stagingRoom(p.UserID)
		if err != nil {
			deny(err)
			return
		}
		if src.Path, size, err = s.loads.saveUpload(io.LimitReader(part, room+1), part.FileName()); err != nil {
			deny(err)
			return
		}
		if size > room {
			removeUpload(src)
			deny(apperr.New(apperr.Invalid, "supply.staging_quota", "files", strconv.Itoa(stagedPerUser), "gib", strconv.Itoa(stagedBytesPerUser>>30)))
			return
		}
		name = part.FileName()
	}
	if !s.checkCSRF(w, r, p, fields["csrf_token"]) {
		removeUpload(src)
		return
	}
	if src.Path == "" {
		if fields["url"] == "" {
			deny(apperr.New(apperr.Invalid, "supply.file_required").OnField("file"))
			return
		}
		if src, err = (sourceInput{URL: strings.TrimSpace(fields["url"]), Table: fields["table"]}).source(); err != nil {
			deny(err)
			return
		}
		name = src.Table
	} else {
		if src.Format, err = formatOf(fields["format"], name); err != nil {
			removeUpload(src)
			deny(err)
			return
		}
		if err := checkStagedFile(src); err != nil {
			removeUpload(src)
			deny(err)
			return
		}
		src.Sheet, src.Delimiter = strings.TrimSpace(fields["sheet"]), fields["delimiter"]
	}
	pv, err := s.supply.Preview(r.Context(), *p, id, src)
	if err != nil {
		removeUpload(src)
		s.supplyFormError(w, r, p, id, err)
		return
	}
	st := &staged{resourceID: id, userID: p.UserID, src: src, name: name, size: size, at: s.now()}
	s.loads.stage(st)
	d, err := s.supplyPageData(r, p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Preview, d.StagedID, d.Staged = &pv, st.id, name
	s.render(w, r, http.StatusOK, "supply", d)
}

// actionEntry starts the audit entry of p's action on a numbered object,
// for refusals the web layer decides before a service is reached.
func actionEntry(p *identity.Principal, action, objectType string, id int64) audit.Entry {
	return audit.Entry{Actor: p.Actor(), Action: action, ObjectType: objectType, ObjectID: strconv.FormatInt(id, 10)}
}

// supplyConfirm loads a previewed source in the background and shows the
// data page with its progress.
func (s *Server) supplyConfirm(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st := s.loads.take(r.PostFormValue("staged"), p.UserID, id)
	if st == nil {
		err := apperr.New(apperr.Invalid, "supply.staged_expired")
		s.audit.Refuse(r.Context(), actionEntry(p, supply.ActionLoad, "resource", id), err)
		s.supplyFormError(w, r, p, id, err)
		return
	}
	j := &loadJob{id: randomID(), resourceID: id, userID: p.UserID, name: st.name, size: st.size, started: s.now()}
	s.loads.mu.Lock()
	s.loads.jobs[j.id] = j
	s.loads.mu.Unlock()
	principal := *p
	go func() {
		defer removeUpload(st.src)
		// The load outlives the request that started it.
		v, err := s.supply.Load(context.WithoutCancel(r.Context()), principal, id, st.src, func(b, n int64) {
			j.bytes.Store(b)
			j.rows.Store(n)
		})
		j.finish(v, err)
		if err != nil {
			s.logger.Warn("load failed", "resource", id, "source", st.name, "err", err)
		}
	}()
	http.Redirect(w, r, fmt.Sprintf("/console/registry/%d/data", id), http.StatusSeeOther)
}

func (s *Server) supplyTag(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	err = s.supply.ConfirmTag(r.Context(), *p, id, r.PostFormValue("column"), pii.Tag(r.PostFormValue("tag")), r.PostFormValue("reason"))
	if err != nil {
		s.supplyFormError(w, r, p, id, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/registry/%d/data#tags", id), http.StatusSeeOther)
}

func (s *Server) supplyUnit(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.supply.SetPrivacyUnit(r.Context(), *p, id, r.PostFormValue("column"), r.PostFormValue("reason")); err != nil {
		s.supplyFormError(w, r, p, id, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/registry/%d/data#tags", id), http.StatusSeeOther)
}
