package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"

	"vizor/bindings"
	"vizor/engineproc"
)

func init() {
	register("engine-worker", "(internal) one engine worker process; `serve` starts these", runEngineWorker)
}

// runEngineWorker serves engine calls on fds 3 (requests) and 4 (replies),
// as set up by engineproc. It ignores SIGINT (a terminal's Ctrl-C reaches
// the whole group; the server decides when workers end, by closing fd 3).
func runEngineWorker(args []string) error {
	if len(args) > 0 {
		return errors.New("engine-worker takes no arguments: `vizor serve` starts it")
	}
	signal.Ignore(syscall.SIGINT)
	in := os.NewFile(3, "engine-requests")
	out := os.NewFile(4, "engine-replies")
	if in == nil || out == nil {
		return errors.New("engine-worker: fds 3 and 4 are not open (started by hand?)")
	}
	return engineproc.ServeWorker(in, out, func(c bindings.Config) (bindings.Analyzer, error) {
		e, err := bindings.Open(c)
		if err != nil {
			return nil, err
		}
		return e, nil
	})
}
