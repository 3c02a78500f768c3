package sae

import "testing"

func TestResolveJobDefaults(t *testing.T) {
	o, err := ResolveJobDefaults(TrainOptions{Steps: 100, Batch: 64, DecaySteps: -1, Sparsity: -1, SparsityWarmupSteps: -1}, ReLU)
	if err != nil {
		t.Fatal(err)
	}
	if o.DecaySteps != 20 || o.Sparsity != 5 || o.SparsityWarmupSteps != 5 || o.AuxKCoef != -1 || o.DeadWindow != 1280 || o.CheckpointEvery != 10 {
		t.Errorf("relu defaults: %+v", o)
	}
	o, _ = ResolveJobDefaults(TrainOptions{Steps: 3, Batch: 8, Sparsity: -1, AuxKCoef: 0.5, DeadWindow: 7, CheckpointEvery: 2}, JumpReLU)
	if o.Sparsity != 1 || o.AuxKCoef != 0.5 || o.DeadWindow != 7 || o.CheckpointEvery != 2 || o.DecaySteps != 0 {
		t.Errorf("given values must be kept: %+v", o)
	}
	if o, _ := ResolveJobDefaults(TrainOptions{Steps: 2, Batch: 8}, TopK); o.DeadWindow != 8 || o.CheckpointEvery != 1 {
		t.Errorf("floors: dead window %d (want one batch, 8), checkpoint every %d (want 1)", o.DeadWindow, o.CheckpointEvery)
	}
	for _, bad := range []TrainOptions{{Steps: 0, Batch: 8}, {Steps: 10, Batch: 8, DecaySteps: 11}} {
		if _, err := ResolveJobDefaults(bad, TopK); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	a := JobCacheKey("m", Config{Site: Site{Hook: "blocks.0.hook_resid_post"}}, "task:ioi", 1, true)
	b := JobCacheKey("m", Config{Site: Site{Hook: "blocks.0.hook_resid_post"}}, "task:ioi", 2, true)
	if a == b {
		t.Error("the cache key ignores the seed")
	}
}
