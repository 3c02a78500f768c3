package workbench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tokenizer"
)

// Options configure a Server. Model is required; the rest have defaults.
type Options struct {
	// Model is the loaded model every page runs; ModelName is how it was named (a built-in name
	// or a folder) and ModelDir its folder ("" for a built-in), for its tokenizer and tasks.
	Model     *model.Model
	ModelName string
	ModelDir  string
	// Roots are the folders whose files the pages may read (training runs, discover results,
	// attribution graphs, SAE and transcoder folders). Nothing outside them is served.
	Roots []string
	// MaxBody bounds a request body in bytes (default 64 KiB).
	MaxBody int64
	// Queue bounds the heavy jobs (model runs) admitted at once, running or waiting; one runs at
	// a time, since a Model serves one goroutine at a time. More get 503 and a busy error
	// (default 4).
	Queue int
	// JobTimeout bounds how long an admitted job waits for its turn (default 2 minutes).
	JobTimeout time.Duration
	// Log receives one line per failed request (default: discarded).
	Log io.Writer
}

// Server is the workbench: embedded pages and a JSON API over the library.
type Server struct {
	opt   Options
	tok   tokenizer.Tokenizer // nil when the model has none
	roots []root

	admit chan struct{} // admission tokens: running + waiting heavy jobs
	model sync.Mutex    // the model runs one job at a time
	log   *log.Logger

	mu       sync.Mutex
	patchExp *patchState // the last patching experiment, reused by cell clicks
	dicts    map[string]*dictionary

	endpoints map[string]string // API path -> its method, for 405 answers
}

// New checks the options and returns a server. Roots that do not exist are an error.
func New(opt Options) (*Server, error) {
	if opt.Model == nil {
		return nil, errors.New("workbench: no model")
	}
	if opt.MaxBody == 0 {
		opt.MaxBody = 64 << 10
	}
	if opt.Queue == 0 {
		opt.Queue = 4
	}
	if opt.JobTimeout == 0 {
		opt.JobTimeout = 2 * time.Minute
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	if opt.ModelName == "" {
		opt.ModelName = model.DefaultModel
	}
	s := &Server{opt: opt, admit: make(chan struct{}, opt.Queue), log: log.New(opt.Log, "interp serve: ", log.LstdFlags),
		dicts: map[string]*dictionary{}, endpoints: map[string]string{}}
	for _, dir := range opt.Roots {
		r, err := newRoot(dir)
		if err != nil {
			return nil, err
		}
		s.roots = append(s.roots, r)
	}
	c := opt.Model.Config
	if opt.ModelDir != "" || (c.Tokenizer != "" && c.Tokenizer != "dir") {
		tok, err := tokenizer.ForModel(opt.ModelDir, c.Tokenizer)
		if err != nil && !errors.Is(err, tokenizer.ErrNoTokenizer) {
			return nil, fmt.Errorf("workbench: tokenizer: %w", err)
		}
		s.tok = tok
	}
	return s, nil
}

// Handler returns the HTTP handler: the pages at /, the API under /api/.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", assetHandler())
	s.route(mux, "GET /api/info", s.info)
	s.route(mux, "GET /api/files", s.files)
	s.route(mux, "GET /api/file", s.rawFile)
	s.route(mux, "POST /api/prompt", s.prompt)
	s.route(mux, "POST /api/patch", s.patch)
	s.route(mux, "POST /api/patch/cell", s.patchCell)
	s.route(mux, "GET /api/circuit", s.circuit)
	s.route(mux, "POST /api/discover", s.discover)
	s.route(mux, "GET /api/compare", s.comparison)
	s.route(mux, "GET /api/run", s.run)
	s.route(mux, "GET /api/graph", s.graph)
	s.route(mux, "GET /api/features", s.features)
	s.route(mux, "GET /api/features/search", s.featureSearch)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if m, ok := s.endpoints[r.URL.Path]; ok {
			w.Header().Set("Allow", m)
			s.fail(w, r, &apiError{http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, m)})
			return
		}
		s.fail(w, r, &apiError{http.StatusNotFound, fmt.Sprintf("no API endpoint %s %s", r.Method, r.URL.Path)})
	})
	return securityHeaders(mux)
}

// securityHeaders sets the headers every answer carries: no sniffing, no framing by other sites,
// and a content security policy allowing only this origin's scripts. No CORS header is ever set,
// so other origins cannot read the API.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'")
		h.ServeHTTP(w, r)
	})
}

// apiError is a failure with its HTTP status.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &apiError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

// handler answers one API request with a value to send as JSON, or an error.
type handler func(r *http.Request) (any, error)

// route registers an API handler: the body is limited, panics become errors (the server stays
// up), and the answer is JSON.
func (s *Server) route(mux *http.ServeMux, pattern string, h handler) {
	method, path, _ := strings.Cut(pattern, " ")
	s.endpoints[path] = method
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.opt.MaxBody)
		v, err := func() (v any, err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("internal error: %v", p)
				}
			}()
			return h(r)
		}()
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if rb, ok := v.(rawBody); ok {
			f, err := os.Open(rb.path)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			defer f.Close()
			st, _ := f.Stat()
			w.Header().Set("Content-Type", contentType(rb.path))
			http.ServeContent(w, r, "", st.ModTime(), f)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		if err := enc.Encode(v); err != nil {
			s.log.Printf("%s %s: writing the answer: %v", r.Method, r.URL.Path, err)
		}
	})
}

// fail answers {"error": "..."} with the error's status (400 for bad input, 413 for an oversized
// body, 503 when busy, 500 otherwise).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	var ae *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		status = ae.status
	case errors.As(err, &mbe):
		status = http.StatusRequestEntityTooLarge
		err = fmt.Errorf("request body over the limit of %d bytes", mbe.Limit)
	}
	msg := strings.TrimSpace(err.Error())
	if i := strings.Index(msg, "\n"); i >= 0 {
		msg = msg[:i]
	}
	s.log.Printf("%s %s: %d %s", r.Method, r.URL.Path, status, msg)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// job runs fn, which uses the model, once it is admitted and the model is free. At most Queue
// jobs are admitted at once; beyond that the answer is 503 busy. A job waits at most JobTimeout
// for the model, and gives up when the client goes away.
func (s *Server) job(r *http.Request, fn func() (any, error)) (any, error) {
	select {
	case s.admit <- struct{}{}:
	default:
		return nil, &apiError{http.StatusServiceUnavailable, fmt.Sprintf("busy: %d model jobs are running or queued; try again shortly", s.opt.Queue)}
	}
	defer func() { <-s.admit }()
	got := make(chan struct{})
	go func() { s.model.Lock(); close(got) }()
	select {
	case <-got:
	case <-r.Context().Done():
		go func() { <-got; s.model.Unlock() }()
		return nil, &apiError{http.StatusServiceUnavailable, "request cancelled while waiting for the model"}
	case <-time.After(s.opt.JobTimeout):
		go func() { <-got; s.model.Unlock() }()
		return nil, &apiError{http.StatusServiceUnavailable, fmt.Sprintf("busy: waited %s for the model; try again", s.opt.JobTimeout)}
	}
	defer s.model.Unlock()
	return fn()
}

// decode reads a JSON request body into v, refusing unknown fields.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("request body: %v", err)
	}
	return nil
}
