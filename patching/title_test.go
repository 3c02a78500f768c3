package patching

import "testing"

func TestTitleNamesTheIndexAxes(t *testing.T) {
	for _, tc := range []struct{ comp, setter, want string }{
		{"pattern", "pattern_head", "pattern by head: exact patching of clean values, logit_diff"},
		{"pattern", "pattern_head_dest", "pattern by head, dest: exact patching of clean values, logit_diff"},
		{"z", "head", "z by head: exact patching of clean values, logit_diff"},
	} {
		r := &Result{Component: tc.comp, Setter: tc.setter, Method: "exact", Source: "clean", Metric: "logit_diff"}
		if got := r.Title(); got != tc.want {
			t.Errorf("Title() = %q, want %q", got, tc.want)
		}
	}
}
