package sae

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/interp-dev/interp/hooks"
)

// TestSiteRows lays out an activation [B=2, P=3, H=2, X=2] holding its own flat index.
func TestSiteRows(t *testing.T) {
	dims := []int{2, 3, 2, 2}
	act := make([]float32, 24)
	for i := range act {
		act[i] = float32(i)
	}
	cases := []struct {
		site    Site
		skipBOS bool
		want    []float32
	}{
		{Site{Heads: HeadsConcat}, false, act},
		{Site{Heads: HeadsPerHead}, false, act},
		{Site{Heads: HeadsSingle, Head: 1}, false, []float32{2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23}},
		{Site{Heads: HeadsSingle, Head: 0}, true, []float32{4, 5, 8, 9, 16, 17, 20, 21}},
		{Site{Heads: HeadsConcat}, true, []float32{4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23}},
	}
	for _, tc := range cases {
		if got := siteRows(nil, tc.site, dims, act, tc.skipBOS); !slices.Equal(got, tc.want) {
			t.Errorf("%s skipBOS %v: %v, want %v", tc.site.Heads, tc.skipBOS, got, tc.want)
		}
	}
}

func TestSiteWidth(t *testing.T) {
	m := tinyModel(t) // 2 layers, 4 heads, d_model 16, d_head 4
	ok := map[Site]int{
		{Hook: hooks.ResidPre(1)}:                            16,
		{Hook: hooks.Z(0), Heads: HeadsConcat}:               16,
		{Hook: hooks.Z(0), Heads: HeadsPerHead}:              4,
		{Hook: hooks.Result(1), Heads: HeadsSingle, Head: 3}: 16,
		{Hook: hooks.Embed}:                                  16,
	}
	for s, want := range ok {
		if got, err := SiteWidth(m.Config, s); err != nil || got != want {
			t.Errorf("%s: width %d, %v; want %d", s, got, err, want)
		}
	}
	bad := []Site{
		{Hook: "blocks.9.hook_resid_post"},
		{Hook: hooks.Z(0)},
		{Hook: hooks.Pattern(0)},
		{Hook: hooks.ResidPre(0), Heads: HeadsConcat},
		{Hook: hooks.Z(0), Heads: HeadsSingle, Head: 4},
	}
	for _, s := range bad {
		if _, err := SiteWidth(m.Config, s); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}

// countingSource counts the token batches it hands out.
type countingSource struct {
	rng   *rand.Rand
	calls int
}

func (c *countingSource) Name() string { return "random" }
func (c *countingSource) Tokens(n int) ([][]int, error) {
	c.calls++
	return randomTokens(c.rng, n, 10, 32), nil
}

func TestActivationStore(t *testing.T) {
	m := tinyModel(t)
	site := Site{Hook: hooks.Z(1), Heads: HeadsPerHead}
	src := &countingSource{rng: rand.New(rand.NewPCG(1, 1))}
	st, err := NewActivationStore(m, src, 3, StoreOptions{Site: site, SeqBatch: 4, SkipBOS: true, BufferRows: 200,
		Normalize: true, NormRuns: 3})
	if err != nil {
		t.Fatal(err)
	}
	if src.calls != 3 || len(st.bufX) != 3*4*9*4*4 {
		t.Fatalf("after estimating the scale: %d runs, %d buffered values; want 3 runs of 4 x 9 positions x 4 heads x 4", src.calls, len(st.bufX))
	}
	x, y, err := st.Next(500)
	if err != nil {
		t.Fatal(err)
	}
	if y != nil || len(x) != 500*4 {
		t.Fatalf("Next(500): %d values, y %v", len(x), y != nil)
	}
	in, _ := st.Scales()
	if mn := meanNorm(x, 4); math.Abs(mn-2)/2 > 0.1 {
		t.Errorf("served rows have mean norm %.3f, want about sqrt(4) = 2 (scale %.3f)", mn, in)
	}
}

func TestActivationCacheReplay(t *testing.T) {
	m := tinyModel(t)
	site := Site{Hook: hooks.ResidPost(0)}
	dir := t.TempDir()
	opt := StoreOptions{Site: site, SeqBatch: 2, BufferRows: 64, CacheDir: dir, CacheKey: "k"}
	first := &countingSource{rng: rand.New(rand.NewPCG(2, 2))}
	a, err := NewActivationStore(m, first, 5, opt)
	if err != nil {
		t.Fatal(err)
	}
	xa, _, err := a.Next(150)
	if err != nil {
		t.Fatal(err)
	}
	runs := first.calls
	// Same key: the cached runs are replayed without running the source, then the source is
	// moved past them and the stream continues as the first store's would.
	second := &countingSource{rng: rand.New(rand.NewPCG(2, 2))}
	b, err := NewActivationStore(m, second, 5, opt)
	if err != nil {
		t.Fatal(err)
	}
	xb, _, err := b.Next(150)
	if err != nil {
		t.Fatal(err)
	}
	if second.calls != 0 {
		t.Errorf("replaying the cache ran the source %d times", second.calls)
	}
	if !slices.Equal(xa, xb) {
		t.Error("replayed rows differ from the first run's")
	}
	moreA, _, _ := a.Next(300)
	moreB, _, _ := b.Next(300)
	if !slices.Equal(moreA, moreB) {
		t.Error("after the cache, the stream differs from the first run's")
	}
	if second.calls != first.calls || first.calls <= runs {
		t.Errorf("source calls: first store %d (%d before), second %d", first.calls, runs, second.calls)
	}
	// Another key ignores the cache.
	opt.CacheKey = "other"
	third := &countingSource{rng: rand.New(rand.NewPCG(2, 2))}
	c, err := NewActivationStore(m, third, 5, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Next(10); err != nil {
		t.Fatal(err)
	}
	if third.calls == 0 {
		t.Error("a store with another key replayed the cache")
	}
}

func TestRowsSource(t *testing.T) {
	rows := [][]int{{1, 2}, {3, 4}, {5, 6}}
	src, err := RowsSource("f.json", rows, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := src.Tokens(6)
	seen := map[int]int{}
	for _, r := range got {
		seen[r[0]]++
	}
	if seen[1] != 2 || seen[3] != 2 || seen[5] != 2 {
		t.Errorf("two passes over 3 rows gave %v", got)
	}
	if _, err := RowsSource("f.json", [][]int{{1}, {2, 3}}, 1); err == nil {
		t.Error("ragged rows accepted")
	}
	if _, err := RowsSource("f.json", nil, 1); err == nil {
		t.Error("no rows accepted")
	}
}

// TestActivationStorePrefetch: with the model running ahead in its own goroutine, the store serves
// the same rows, target rows included, as without; the source is read ahead; Close stops it.
func TestActivationStorePrefetch(t *testing.T) {
	m := tinyModel(t)
	opt := StoreOptions{Site: Site{Hook: hooks.ResidPre(1)}, Target: Site{Hook: hooks.ResidPost(1)}, SeqBatch: 3, BufferRows: 100,
		Normalize: true, NormRuns: 2}
	serve := func(prefetch bool) (xs, ys []float32, calls int) {
		src := &countingSource{rng: rand.New(rand.NewPCG(4, 4))}
		o := opt
		o.Prefetch = prefetch
		st, err := NewActivationStore(m, src, 9, o)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for range 6 {
			x, y, err := st.Next(70)
			if err != nil {
				t.Fatal(err)
			}
			xs, ys = append(xs, x...), append(ys, y...)
		}
		return xs, ys, st.runs
	}
	x0, y0, runs0 := serve(false)
	x1, y1, runs1 := serve(true)
	if !slices.Equal(x0, x1) || !slices.Equal(y0, y1) || len(y0) != len(x0)/m.Config.DModel*m.Config.DModel {
		t.Fatal("prefetched rows differ from the rows made in step")
	}
	if runs0 != runs1 {
		t.Errorf("%d model runs consumed with prefetching, %d without", runs1, runs0)
	}
}
