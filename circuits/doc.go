// Package circuits will hold circuit discovery (discrete-SAE head overlap, ACDC, EAP, EAP-IG),
// scoring against ground truth and planted-circuit models (issue 7). Nothing is implemented here yet.
package circuits
