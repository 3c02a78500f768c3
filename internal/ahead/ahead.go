// Package ahead runs a producer in a goroutine of its own, a bounded number of items ahead of
// its consumer, in order: the activation stores use it to run the model while a dictionary trains
// on the rows of earlier runs.
package ahead

// Reader hands out the items of a producer, in the order it produced them, from a goroutine that
// keeps up to depth items ready. The zero value is stopped.
type Reader[T any] struct {
	items chan T
	stop  chan struct{}
}

// Running reports whether the goroutine has been started and not stopped.
func (r *Reader[T]) Running() bool { return r.items != nil }

// Start starts the goroutine, which calls produce until last reports that an item ends the
// stream (an error, or nothing more): that item is the last one handed out.
func (r *Reader[T]) Start(depth int, produce func() T, last func(T) bool) {
	r.items, r.stop = make(chan T, max(1, depth)), make(chan struct{})
	go func(items chan<- T, stop <-chan struct{}) {
		for {
			it := produce()
			select {
			case items <- it:
			case <-stop:
				return
			}
			if last(it) {
				return
			}
		}
	}(r.items, r.stop)
}

// Next returns the next item; after an item that ends the stream the reader is stopped, and a
// later Start begins afresh.
func (r *Reader[T]) Next(last func(T) bool) T {
	it := <-r.items
	if last(it) {
		r.Stop()
	}
	return it
}

// Stop ends the goroutine (a no-op when it is not running).
func (r *Reader[T]) Stop() {
	if r.stop != nil {
		close(r.stop)
	}
	r.items, r.stop = nil, nil
}
