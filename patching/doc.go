// Package patching will hold activation patching, path patching and attribution patching built
// on the hooks of package hooks (issue 4). Nothing is implemented here yet; until then the
// same experiments can be written directly with hooks.Set.Replace and hooks.Set.Grad.
package patching
