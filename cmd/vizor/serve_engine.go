package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/rs/zerolog"

	"vizor/bindings"
	"vizor/engineproc"
	"vizor/server/config"
	"vizor/server/metrics"
)

// openEngine opens the engine the server uses: with engine_isolation=process
// (the default) a pool of engine_workers supervised worker processes, each
// running a one-worker engine, so that a crash in native code fails only the
// request that caused it; with off, the engine in this process.
func openEngine(cfg config.Config, onRestart func(reason string)) (bindings.Analyzer, error) {
	ec := bindings.Config{
		ModelsDir: cfg.ModelsDir, Workers: cfg.EngineWorkers, ThreadsPerWorker: cfg.EngineThreads, Backend: cfg.EngineBackend,
		MaxPixels: cfg.MaxPixels, MaxBytes: int64(cfg.MaxBodyBytes),
	}
	if cfg.EngineIsolation == "off" {
		e, err := bindings.Open(ec)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("engine workers: locating the vizor binary: %w", err)
	}
	procs := cfg.EngineWorkers
	if procs <= 0 {
		procs = runtime.NumCPU()
	}
	ec.Workers = 1
	return engineproc.Start(engineproc.Config{
		Command: []string{exe, "engine-worker"}, Engine: ec, Procs: procs, OnRestart: onRestart,
	})
}

// workerRestarts logs and counts engine worker replacements. The counter is
// set once the metrics exist (the engine starts first).
type workerRestarts struct {
	log   zerolog.Logger
	mu    sync.Mutex
	count *metrics.CounterVec
}

func (w *workerRestarts) note(reason string) {
	w.log.Error().Str("reason", reason).Msg("engine worker died: request answered with an error, worker restarted")
	w.mu.Lock()
	c := w.count
	w.mu.Unlock()
	if c != nil {
		c.With().Inc()
	}
}
