//go:build ignore

// textcorpus builds the English corpus of the natural-text study from Sphinx reStructuredText
// sources (*.rst.txt) that Debian's documentation packages ship, e.g. python3.11-doc's
// /usr/share/doc/python3.11/html/_sources (Python Software Foundation License) and
// linux-doc-6.1's /usr/share/doc/linux-doc-6.1/html/_sources (GPL-2; see each package's
// copyright file; docs/study/text_corpus.sh fetches them):
//
//	go run docs/study/textcorpus.go [-verbatim] SOURCES_DIR[:SOURCES_DIR...] OUT_DIR [VOCAB]
//
// By default it keeps the prose: section underlines, directives' own lines, literal and code blocks,
// doctest lines and tables are dropped, inline markup is reduced to its text, and each
// paragraph becomes one line. Documents are taken in sorted path order; every 20th goes to
// heldout.txt, the rest to train.txt. A byte-level BPE of VOCAB tokens (default 4096) is trained
// on train.txt and written as tokenizer.json. OUT_DIR is then a corpus for --task text:OUT_DIR.
//
// With -verbatim each document is kept as its authors wrote it (reStructuredText with its markup,
// code examples and literal blocks; only CRLF line ends become LF). Code and markup repeat names
// within a document far more often than the prose does, which is what an induction head predicts
// (docs/MODELS.md).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/interp-dev/interp/tokenizer"
)

var (
	tableRule = regexp.MustCompile(`^[+|=\- ]+$`)
	// a field list line (":param x: ...", ":platform: Unix"), not a role (":term:`...`")
	fieldList = regexp.MustCompile("^:[^:`]+:(\\s|$)")
	// :role:`text <target>` or :role:`text`
	roleTarget = regexp.MustCompile(":[a-zA-Z:]+:`(?:~|!)?([^`<]*?)\\s*(?:<[^`>]*>)?`")
	linkTarget = regexp.MustCompile("`([^`<]*?)\\s*<[^`>]*>`_{1,2}")
	literal    = regexp.MustCompile("``([^`]*)``")
	interp     = regexp.MustCompile("`([^`]*)`_{0,2}")
	strong     = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	emph       = regexp.MustCompile(`\*([^*\s][^*]*)\*`)
	footnote   = regexp.MustCompile(`\s*\[[#*0-9a-zA-Z]*\]_`)
)

// codeDirectives introduce blocks that are code or tables of contents, not prose.
var codeDirectives = []string{"code-block", "code", "sourcecode", "testcode", "testsetup", "testcleanup", "testoutput",
	"doctest", "productionlist", "literalinclude", "toctree", "highlight", "csv-table", "table", "list-table",
	"raw", "include", "image", "figure", "index", "only", "audit-event", "opcode", "c:", "cmdoption", "envvar"}

func clean(src string) string {
	var paras []string
	var cur []string
	flush := func() {
		if len(cur) == 0 {
			return
		}
		p := inline(strings.Join(cur, " "))
		cur = cur[:0]
		letters := 0
		for _, r := range p {
			if unicode.IsLetter(r) || r == ' ' {
				letters++
			}
		}
		if len(strings.Fields(p)) >= 4 && letters*10 >= len([]rune(p))*8 {
			paras = append(paras, p)
		}
	}
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	skipIndent := -1 // skip the block indented deeper than this (a literal or code block)
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], " \t")
		trimmed := strings.TrimLeft(line, " \t")
		indent := len(line) - len(trimmed)
		if skipIndent >= 0 {
			if trimmed == "" || indent > skipIndent {
				continue
			}
			skipIndent = -1
		}
		switch {
		case trimmed == "":
			flush()
			continue
		case isUnderline(trimmed), tableRule.MatchString(trimmed) && strings.ContainsAny(trimmed, "+="):
			// A title's underline: the title line before it is its own paragraph.
			if len(cur) == 1 {
				cur = cur[:0]
			}
			flush()
			continue
		case strings.HasPrefix(trimmed, ".. "):
			flush()
			name := strings.TrimPrefix(trimmed, ".. ")
			for _, d := range codeDirectives {
				if strings.HasPrefix(name, d) {
					skipIndent = indent
					break
				}
			}
			if !strings.Contains(name, "::") { // a comment or a target: skip its block
				skipIndent = indent
			}
			continue
		case strings.HasPrefix(trimmed, ">>>"), strings.HasPrefix(trimmed, "..."), fieldList.MatchString(trimmed),
			strings.HasPrefix(trimmed, "|"), strings.HasPrefix(trimmed, "+"):
			flush()
			continue
		}
		if strings.HasSuffix(trimmed, "::") {
			trimmed = strings.TrimSuffix(trimmed, ":") // "Example::" reads "Example:"
			skipIndent = indent
			cur = append(cur, trimmed)
			flush()
			continue
		}
		trimmed = strings.TrimLeft(trimmed, "*-#. ")
		if trimmed != "" {
			cur = append(cur, trimmed)
		}
	}
	flush()
	return strings.Join(paras, "\n")
}

// isUnderline reports a reST section adornment: one punctuation character repeated, 3 or more.
func isUnderline(s string) bool {
	if len(s) < 3 || !strings.ContainsRune("=-~^*#+\"'`:._", rune(s[0])) {
		return false
	}
	return strings.Count(s, s[:1]) == len(s)
}

func inline(s string) string {
	s = roleTarget.ReplaceAllString(s, "$1")
	s = linkTarget.ReplaceAllString(s, "$1")
	s = literal.ReplaceAllString(s, "$1")
	s = interp.ReplaceAllString(s, "$1")
	s = strong.ReplaceAllString(s, "$1")
	s = emph.ReplaceAllString(s, "$1")
	s = footnote.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, `\ `, "")
	return strings.Join(strings.Fields(s), " ")
}

func main() {
	verbatim := flag.Bool("verbatim", false, "keep each document as written (markup and code included) instead of its prose")
	flag.Parse()
	args := flag.Args()
	if len(args) < 2 || len(args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: go run docs/study/textcorpus.go [-verbatim] SOURCES_DIR[:SOURCES_DIR...] OUT_DIR [VOCAB]")
		os.Exit(2)
	}
	src, out := args[0], args[1]
	vocab := 4096
	if len(args) > 2 {
		v, err := strconv.Atoi(args[2])
		if err != nil {
			fmt.Fprintf(os.Stderr, "textcorpus: VOCAB %q is not a number\n", args[2])
			os.Exit(2)
		}
		vocab = v
	}
	// SOURCES_DIR may list several folders, joined by ":"; each one's files are taken in sorted
	// path order, the folders in the order given.
	var files []string
	for _, dir := range strings.Split(src, ":") {
		var these []string
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".rst.txt") {
				these = append(these, p)
			}
			return err
		})
		if err == nil && len(these) == 0 {
			err = fmt.Errorf("no .rst.txt files under %s", dir)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "textcorpus:", err)
			os.Exit(1)
		}
		sort.Strings(these)
		files = append(files, these...)
	}
	var train, held strings.Builder
	nTrain, nHeld := 0, 0
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "textcorpus:", err)
			os.Exit(1)
		}
		var text string
		if *verbatim {
			text = strings.TrimSpace(strings.ReplaceAll(string(data), "\r\n", "\n"))
		} else {
			text = clean(string(data))
		}
		if text == "" {
			continue
		}
		if i%20 == 19 {
			held.WriteString(text + "\n\n")
			nHeld++
		} else {
			train.WriteString(text + "\n\n")
			nTrain++
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "textcorpus:", err)
		os.Exit(1)
	}
	tj, err := tokenizer.TrainBPE(train.String(), vocab)
	if err != nil {
		fmt.Fprintln(os.Stderr, "textcorpus:", err)
		os.Exit(1)
	}
	for name, data := range map[string][]byte{"train.txt": []byte(train.String()), "heldout.txt": []byte(held.String()), "tokenizer.json": tj} {
		if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "textcorpus:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("%d documents: %d train (%d bytes), %d held out (%d bytes); tokenizer of %d tokens in %s\n",
		nTrain+nHeld, nTrain, train.Len(), nHeld, held.Len(), vocab, out)
}
