package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"vizor/server"
	"vizor/server/backend"
	"vizor/server/compat"
	"vizor/server/compat/listen"
	"vizor/server/config"
	"vizor/server/logging"
	"vizor/server/service"
	"vizor/server/xmlapi"
)

func init() {
	register("serve", "run the HTTP server (biometric XML search API, default 127.0.0.1:8080)", runServe)
}

func runServe(args []string) error {
	cfg, fs, err := config.Load(args, nil, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil
	case errors.Is(err, config.ErrPrintOnly):
		fmt.Print(cfg.Describe())
		return nil
	case err != nil:
		return err
	}
	if rest := fs.Args(); len(rest) > 0 {
		// Flag parsing stops at the first word that is not a flag: every
		// setting after it would be silently ignored ("-compreface true
		// -compreface-addr X" is the usual way to get there).
		return fmt.Errorf("unexpected argument %q: serve takes only flags; a boolean is set with -flag or -flag=value (e.g. -compreface=true)", rest[0])
	}
	log, err := logging.New(cfg.LogLevel, cfg.LogFormat, os.Stderr)
	if err != nil {
		return fmt.Errorf("log_level: %w", err)
	}
	if cfg.MADModel != "" {
		// The slot exists in the service (service.MorphDetector), but no MAD
		// runtime is built into this binary: refuse rather than fake a score.
		return fmt.Errorf("mad_model %q: this build has no MAD runtime; leave mad_model empty (the MAD gate stays off)", cfg.MADModel)
	}
	addr, note := server.EffectiveAddr(cfg)
	fileLimit, err := server.FileLimit()
	if err != nil {
		return fmt.Errorf("open-file limit: %w", err)
	}
	connTotal, connShare := server.ConnCaps(cfg, fileLimit)

	m := server.NewMetrics()
	restarts := &workerRestarts{log: log}
	eng, err := openEngine(cfg, restarts.note)
	if err != nil {
		return fmt.Errorf("engine (models %s): %w", cfg.ModelsDir, err)
	}
	defer eng.Close()
	eng = observeStages(eng, m)
	gal, snapshot, galWhere, err := openGallery(cfg)
	if err != nil {
		return err
	}
	galA := backend.NewGallery(gal)
	engA := backend.NewEngine(eng)
	info := eng.Info()
	batcher := service.NewBatcher(engA, cfg.BatchMax, max(1, info.Workers), cfg.BatchWait)
	svc := service.New(service.Config{
		MatchThreshold:        float32(cfg.MatchThreshold),
		QualityThreshold:      float32(cfg.QualityThreshold),
		ProbeQualityThreshold: float32(cfg.ProbeQualityThreshold),
		PADThreshold:          float32(cfg.PADThreshold),
		PADPolicy:             service.PADPolicy(cfg.PAD.Policy), // the XML API's; compat flavours pass theirs
		MADThreshold:          float32(cfg.MADThreshold),
		DefaultTopK:           cfg.DefaultTopK,
		MaxTopK:               cfg.MaxTopK,
		DataDir:               cfg.DataDir, // /health watches its filesystem
	}, batcher, galA)
	restarts.mu.Lock()
	restarts.count = m.Reg.NewCounterVec("vizor_engine_worker_restarts_total", "Engine worker processes replaced after a crash or a hang (engine_isolation=process).")
	restarts.mu.Unlock()
	svc.OnReject = func(op, gate string) { m.Gates.With(op, gate).Inc() }
	svc.OnPAD = func(_ string, r service.PADResult) { m.PAD.With(string(r.Policy), r.Outcome).Inc() }
	batcher.OnBatch = func(n int) { m.BatchSize.With().Observe(float64(n)) }
	instrument(m, gal.Counts, batcher)
	srv := server.New(cfg, log, m, withConsole(cfg, xmlapi.New(svc, cfg.MaxBodyBytes), eng))

	ln, err := server.Listen(addr) // loopback: 127.0.0.1 and [::1]
	if err != nil {
		batcher.Close()
		_ = svc.Close()
		return err
	}
	// Drop-in compatibility listeners (CompreFace, Facenet512, MassHealth),
	// each switched on in the configuration, over the same service, engine
	// and gallery.
	compatLn, err := listen.Start(compat.Deps{Cfg: cfg, Log: log, Metrics: m, Svc: svc, Engine: compat.Engine{E: eng}, Gallery: gal})
	if err != nil {
		_ = ln.Close()
		batcher.Close()
		_ = svc.Close()
		return err
	}
	if note != "" {
		log.Warn().Msg(note)
	}
	if len(cfg.APIKeys) == 0 {
		log.Warn().Str("addr", ln.Addr().String()).Msg("no API keys configured: every request is accepted without x-api-key")
	}
	log.Info().
		Str("addr", server.ListenAddrs(ln)).
		Str("version", server.Version).
		Str("engine", info.EngineVersion).
		Str("backend", info.Backend).
		Int("engine_workers", info.Workers).
		Str("model_id", info.RecognizerID).
		Str("data_dir", cfg.DataDir).
		Str("gallery", gal.Kind()+" "+galWhere).
		Int("api_keys", len(cfg.APIKeys)).
		Float64("match_threshold", cfg.MatchThreshold).
		Float64("quality_threshold", cfg.QualityThreshold).
		Float64("probe_quality_threshold", cfg.ProbeQualityThreshold).
		Float64("pad_threshold", cfg.PADThreshold).
		Str("mad_gate", "off: no MAD model configured").
		Int("batch_max", cfg.BatchMax).
		Int("max_in_flight", cfg.MaxInFlight).
		Str("memory_plan", cfg.PlanMemory(config.MemoryLimit()).String()).
		Int("max_conns", connTotal).
		Int("max_conns_per_listener", connShare).
		Int("max_conns_per_ip", cfg.MaxConnsPerIP).
		Int("file_limit", fileLimit).
		Msg("vizor serving the biometric XML search API")

	stopSnapshots := snapshotLoop(snapshot, cfg.SnapshotInterval, log)
	defer stopSnapshots()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// A listener returns only on a real failure (accept errors a client can
	// cause are retried, server.RetryListener): that ends the process with
	// a non-zero status, so a supervisor (Restart=on-failure) restarts it.
	var failed error
	select {
	case sig := <-sigs:
		log.Info().Str("signal", sig.String()).Msg("shutting down: no new connections, finishing requests in flight")
	case err := <-serveErr:
		failed = fmt.Errorf("XML API listener stopped: %w", errOrUnexpected(err))
		log.Error().Err(failed).Msg("server stopped")
	case err := <-compatLn.Err():
		failed = fmt.Errorf("compatibility listener stopped: %w", errOrUnexpected(err))
		log.Error().Err(failed).Msg("compatibility listener stopped")
	}
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	shutErr := errors.Join(srv.Shutdown(ctx), compatLn.Stop(ctx))
	batcher.Close()
	closeErr := svc.Close() // syncs and closes the gallery
	log.Info().Dur("took", time.Since(t0)).AnErr("shutdown", shutErr).AnErr("gallery_close", closeErr).Msg("stopped")
	return errors.Join(failed, closeErr)
}

// errOrUnexpected names a listener that returned without an error although
// nothing asked it to stop.
func errOrUnexpected(err error) error {
	if err == nil {
		return errors.New("returned without an error before shutdown")
	}
	return err
}

// snapshotLoop snapshots the gallery's trained and graph indexes every
// interval, so a crash costs at most one interval of replay at start-up
// (Close snapshots too). It returns the function that stops it.
func snapshotLoop(snapshot func() error, every time.Duration, log zerolog.Logger) func() {
	if every <= 0 || snapshot == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				start := time.Now()
				if err := snapshot(); err != nil {
					log.Error().Err(err).Msg("gallery snapshot failed")
					continue
				}
				log.Debug().Dur("took", time.Since(start)).Msg("gallery snapshot")
			}
		}
	}()
	return func() { close(done) }
}
