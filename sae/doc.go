// Package sae will hold sparse autoencoders (ReLU/L1, TopK, BatchTopK, JumpReLU), their training
// on any hook point and SAELens-compatible files (issue 5). Nothing is implemented here yet.
package sae
