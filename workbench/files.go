package workbench

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/transcoder"
)

// root is one folder named on the command line. Requests name files by root index and a
// slash-separated path inside it.
type root struct {
	dir  string // as given
	real string // with symlinks resolved
}

func newRoot(dir string) (root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return root{}, fmt.Errorf("workbench: root %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return root{}, fmt.Errorf("workbench: root %s: %w", dir, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return root{}, fmt.Errorf("workbench: root %s: %w", dir, err)
	}
	if !st.IsDir() {
		return root{}, fmt.Errorf("workbench: root %s: not a folder", dir)
	}
	return root{dir: dir, real: real}, nil
}

// resolve turns (root index, path) from a request into a file system path inside that root,
// refusing absolute paths, ".." anywhere, and symlinks that lead out of the root.
func (s *Server) resolve(rootParam, rel string) (string, error) {
	i, err := strconv.Atoi(rootParam)
	if err != nil || i < 0 || i >= len(s.roots) {
		return "", badRequest("root %q: want an index in [0, %d) (the --runs folders, in order)", rootParam, len(s.roots))
	}
	r := s.roots[i]
	if rel == "" {
		return "", badRequest("path is empty")
	}
	if strings.ContainsRune(rel, 0) {
		return "", badRequest("path %q: contains a NUL byte", rel)
	}
	if strings.HasPrefix(rel, "/") || strings.HasPrefix(rel, `\`) || filepath.IsAbs(rel) || filepath.VolumeName(rel) != "" {
		return "", &apiError{http.StatusForbidden, fmt.Sprintf("path %q: absolute paths are refused; give a path inside root %d", rel, i)}
	}
	for _, part := range strings.FieldsFunc(rel, func(c rune) bool { return c == '/' || c == '\\' }) {
		if part == ".." {
			return "", &apiError{http.StatusForbidden, fmt.Sprintf("path %q: \"..\" is refused", rel)}
		}
	}
	p := filepath.Join(r.real, filepath.FromSlash(path.Clean(rel)))
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", notFound("path %q in root %d: no such file or folder", rel, i)
	}
	if !inside(real, r.real) {
		return "", &apiError{http.StatusForbidden, fmt.Sprintf("path %q: leads out of root %d through a symlink", rel, i)}
	}
	return real, nil
}

// resolveDir is resolve for a folder whose files a loader reads by name: every entry of the folder
// must stay inside the root too.
func (s *Server) resolveDir(rootParam, rel string) (string, error) {
	p, err := s.resolve(rootParam, rel)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(p)
	if err != nil || !st.IsDir() {
		return "", badRequest("path %q: not a folder", rel)
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return "", err
	}
	r, _ := strconv.Atoi(rootParam)
	for _, e := range entries {
		real, err := filepath.EvalSymlinks(filepath.Join(p, e.Name()))
		if err == nil && !inside(real, s.roots[r].real) {
			return "", &apiError{http.StatusForbidden, fmt.Sprintf("path %q: %s leads out of root %d through a symlink", rel, e.Name(), r)}
		}
	}
	return p, nil
}

func inside(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// Artifact is one thing the pages can open from a root.
type Artifact struct {
	Root int    `json:"root"`
	Path string `json:"path"` // slash-separated, inside the root
	Kind string `json:"kind"` // run, circuit, graph, dictionary
	// About is a one-line description (task, method, hook, ...).
	About string `json:"about"`
}

// maxPeek bounds the JSON files read while listing (larger ones are skipped).
const maxPeek = 32 << 20

// files lists the artifacts in every root: training runs (metrics.jsonl), discover results,
// attribution graphs and SAE or transcoder folders. Symlinks are not followed.
func (s *Server) files(r *http.Request) (any, error) {
	out := map[string]any{"roots": s.rootNames(), "artifacts": s.artifacts()}
	return out, nil
}

func (s *Server) rootNames() []string {
	names := make([]string, len(s.roots))
	for i, r := range s.roots {
		names[i] = r.dir
	}
	return names
}

func (s *Server) artifacts() []Artifact {
	list := []Artifact{}
	for i, r := range s.roots {
		filepath.WalkDir(r.real, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			rel, _ := filepath.Rel(r.real, p)
			rel = filepath.ToSlash(rel)
			if d.IsDir() {
				if strings.Count(rel, "/") > 5 || (rel != "." && strings.HasPrefix(d.Name(), ".")) {
					return filepath.SkipDir
				}
				if a, ok := classifyDir(p); ok && rel != "." {
					a.Root, a.Path = i, rel
					list = append(list, a)
					if a.Kind == "dictionary" {
						return filepath.SkipDir
					}
				}
				return nil
			}
			if d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".json") {
				if a, ok := classifyJSON(p); ok {
					a.Root, a.Path = i, rel
					list = append(list, a)
				}
			}
			return nil
		})
	}
	sort.SliceStable(list, func(a, b int) bool {
		if list[a].Kind != list[b].Kind {
			return list[a].Kind < list[b].Kind
		}
		return list[a].Root < list[b].Root || (list[a].Root == list[b].Root && list[a].Path < list[b].Path)
	})
	return list
}

// classifyDir recognises training runs and dictionary folders.
func classifyDir(p string) (Artifact, bool) {
	if st, err := os.Stat(filepath.Join(p, "metrics.jsonl")); err == nil && st.Mode().IsRegular() {
		return Artifact{Kind: "run", About: runAbout(p)}, true
	}
	if transcoder.IsCLTDir(p) {
		return Artifact{Kind: "dictionary", About: "cross-layer transcoder"}, true
	}
	if raw, err := os.ReadFile(filepath.Join(p, sae.CfgFile)); err == nil {
		if _, err := os.Stat(filepath.Join(p, sae.WeightsFile)); err == nil {
			var cfg struct {
				Arch string `json:"architecture"`
				Hook string `json:"hook_name"`
			}
			json.Unmarshal(raw, &cfg)
			return Artifact{Kind: "dictionary", About: strings.TrimSpace(cfg.Arch + " " + cfg.Hook)}, true
		}
	}
	return Artifact{}, false
}

func runAbout(p string) string {
	var st struct {
		Task   string   `json:"task"`
		Clamps []string `json:"clamps"`
	}
	raw, err := os.ReadFile(filepath.Join(p, "summary.json"))
	if err != nil {
		raw, err = os.ReadFile(filepath.Join(p, "checkpoint", "state.json"))
	}
	if err != nil || json.Unmarshal(raw, &st) != nil {
		return "training run"
	}
	if len(st.Clamps) == 0 {
		return st.Task + ", no clamps"
	}
	return st.Task + ", " + strings.Join(st.Clamps, "; ")
}

// classifyJSON recognises discover results and reports, and attribution graph files.
func classifyJSON(p string) (Artifact, bool) {
	st, err := os.Stat(p)
	if err != nil || st.Size() > maxPeek {
		return Artifact{}, false
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		return Artifact{}, false
	}
	var probe struct {
		Method     string          `json:"method"`
		Task       string          `json:"task"`
		Model      string          `json:"model"`
		NodeScores json.RawMessage `json:"node_scores"`
		Results    []struct {
			Method string `json:"method"`
		} `json:"results"`
		Metadata *struct {
			Prompt string `json:"prompt"`
		} `json:"metadata"`
		Nodes json.RawMessage `json:"nodes"`
		Links json.RawMessage `json:"links"`
		A     *string         `json:"a"`
		B     *string         `json:"b"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return Artifact{}, false
	}
	switch {
	case probe.NodeScores != nil:
		return Artifact{Kind: "circuit", About: fmt.Sprintf("%s on %s (%s)", probe.Method, probe.Task, probe.Model)}, true
	case len(probe.Results) > 0:
		var ms []string
		for _, r := range probe.Results {
			ms = append(ms, r.Method)
		}
		return Artifact{Kind: "circuit", About: fmt.Sprintf("%s on %s (%s)", strings.Join(ms, ", "), probe.Task, probe.Model)}, true
	case probe.A != nil && probe.B != nil && probe.Nodes != nil:
		return Artifact{Kind: "comparison", About: fmt.Sprintf("%s vs %s", *probe.A, *probe.B)}, true
	case probe.Metadata != nil && probe.Nodes != nil && probe.Links != nil:
		return Artifact{Kind: "graph", About: fmt.Sprintf("prompt %q", probe.Metadata.Prompt)}, true
	}
	return Artifact{}, false
}

// rawFile serves one file from a root (plots beside the JSON: progress.png, heatmaps).
func (s *Server) rawFile(r *http.Request) (any, error) {
	p, err := s.resolve(r.URL.Query().Get("root"), r.URL.Query().Get("path"))
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(p)
	if err != nil || !st.Mode().IsRegular() {
		return nil, badRequest("path %q: not a file", r.URL.Query().Get("path"))
	}
	return rawBody{path: p}, nil
}

// rawBody is an answer sent as the file's bytes rather than JSON.
type rawBody struct{ path string }

// rootFile reads the file a request names (root and path query parameters), at most maxPeek bytes.
func (s *Server) rootFile(r *http.Request) ([]byte, error) {
	q := r.URL.Query()
	p, err := s.resolve(q.Get("root"), q.Get("path"))
	if err != nil {
		return nil, err
	}
	return readFileLimited(p, maxPeek)
}

// readFileLimited reads a file of at most max bytes.
func readFileLimited(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > max {
		return nil, badRequest("%s: %d bytes, over the limit of %d", filepath.Base(p), st.Size(), max)
	}
	return io.ReadAll(f)
}

func contentType(p string) string {
	if t := mime.TypeByExtension(filepath.Ext(p)); t != "" {
		return t
	}
	return "application/octet-stream"
}
