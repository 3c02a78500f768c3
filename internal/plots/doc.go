// Package plots draws the figures the tools write beside their JSON: line charts of training
// curves, heatmaps of patching scores, histograms of feature densities and bar charts. It is a
// thin layer over gonum.org/v1/plot with the project's conventions: the file extension (.png
// or .svg) picks the format, heatmaps put row 0 at the top (as TransformerLens users' imshow
// does) with a diverging colour map centred at 0, and every axis is labelled.
package plots
