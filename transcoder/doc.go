// Package transcoder will hold transcoders that replace MLP sublayers and the weights-based
// circuit analysis of Dunefsky et al. (issue 6). Nothing is implemented here yet.
package transcoder
