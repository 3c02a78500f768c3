package workbench

import (
	"embed"
	"io/fs"
	"net/http"
)

// The pages: one HTML shell, one script and one style sheet, embedded in the binary (no CDN, no
// build step).
//
//go:embed assets
var assets embed.FS

func assetHandler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err)
	}
	return http.FileServerFS(sub)
}
