package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/workbench"
)

func init() {
	commands = append(commands, command{"serve", "open the web workbench: prompt, patching, circuits, features, graphs, runs", cmdServe})
}

func cmdServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	modelSpec := fs.String("model", model.DefaultModel, "model directory or built-in name")
	backend := fs.String("backend", "", "backend (see interp run -h)")
	addr := fs.String("addr", "127.0.0.1:8077", "listen address; a non-loopback host needs --allow-remote")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback --addr (reachable from other machines)")
	queue := fs.Int("queue", 4, "model jobs admitted at once, running or waiting; more are answered busy")
	var runs listFlag
	fs.Var(&runs, "runs", "folder whose training runs, discover results, graphs and SAE/transcoder folders the pages may open (repeatable); nothing else is served")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := positive(fs, "queue"); err != nil {
		return err
	}
	warning, err := workbench.CheckAddr(*addr, *allowRemote)
	if err != nil {
		return usageError{err}
	}
	for _, dir := range runs {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return usagef("--runs %s: not a folder", dir)
		}
	}
	m, dir, err := loadModel(*modelSpec, *backend, stderr)
	if err != nil {
		return err
	}
	srv, err := workbench.New(workbench.Options{Model: m, ModelName: *modelSpec, ModelDir: dir, Roots: runs, Queue: *queue, Log: stderr})
	if err != nil {
		return err
	}
	if warning != "" {
		fmt.Fprintln(stderr, "interp serve: "+warning)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return workbench.ListenAndServe(ctx, *addr, srv.Handler(), func(bound string) {
		fmt.Fprintf(stdout, "interp workbench on http://%s/ (model %s; Ctrl-C stops)\n", bound, *modelSpec)
	})
}
