// Package attrgraph builds attribution graphs over transcoders (circuit-tracer's method).
package attrgraph
