package workbench_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/workbench"
)

// A workbench on a tiny random model, asked for one prompt's view over HTTP.
func Example() {
	w, _ := model.NewRandomWeights(model.AttnOnlyToy(2, 4, 16, 20, 8), 1)
	b, name := model.MustNewBackend("")
	m, _ := model.New(w, b, name)
	srv, err := workbench.New(workbench.Options{Model: m, ModelName: "tiny"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, err := ts.Client().Post(ts.URL+"/api/prompt", "application/json", strings.NewReader(`{"tokens": [3, 1, 4, 1, 5], "k": 2}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var view struct {
		Tokens    []int           `json:"tokens"`
		Top       [][]any         `json:"top"`
		Attention [][][][]float64 `json:"attention"`
		Lens      struct {
			Labels []string `json:"labels"`
		} `json:"lens"`
	}
	json.NewDecoder(resp.Body).Decode(&view)
	fmt.Println("tokens:", view.Tokens)
	fmt.Println("top-k per position:", len(view.Top), "x", len(view.Top[0]))
	fmt.Println("attention: layers", len(view.Attention), "heads", len(view.Attention[0]))
	fmt.Println("logit lens rows:", view.Lens.Labels)
	// Output:
	// tokens: [3 1 4 1 5]
	// top-k per position: 5 x 2
	// attention: layers 2 heads 4
	// logit lens rows: [0_pre 1_pre final_post]
}
