package workbench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// CheckAddr checks a listen address. Loopback hosts (127.0.0.0/8, ::1, localhost) are always
// allowed; anything else, the wildcard included, only with allowRemote, and then it returns a
// warning to show: the workbench runs models and reads files for whoever can reach it.
func CheckAddr(addr string, allowRemote bool) (warning string, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: want HOST:PORT, e.g. 127.0.0.1:8077", addr)
	}
	if port == "" {
		return "", fmt.Errorf("address %q: no port", addr)
	}
	if host == "localhost" {
		return "", nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return "", nil
	}
	if !allowRemote {
		return "", fmt.Errorf("address %q is not a loopback address: the workbench would be reachable from other machines; give --allow-remote to do that on purpose", addr)
	}
	return fmt.Sprintf("warning: listening on %s, reachable from other machines: anyone who can connect can run the model and read the files under the --runs folders", addr), nil
}

// ListenAndServe serves the handler on addr until ctx is cancelled, then shuts down gracefully.
// ready, when not nil, is called with the bound address once the server listens.
func ListenAndServe(ctx context.Context, addr string, h http.Handler, ready func(bound string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return nil
	}
}
