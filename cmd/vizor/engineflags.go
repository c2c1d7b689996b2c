package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"

	"vizor/bindings"
)

// engineFlags are the engine settings shared by the offline subcommands.
type engineFlags struct {
	models  string
	workers int
	backend string
}

func (f *engineFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.models, "models", defaultModelsDir(), "models directory (env VIZOR_MODELS_DIR)")
	fs.IntVar(&f.workers, "workers", 0, "engine workers (0: number of CPUs)")
	fs.StringVar(&f.backend, "backend", "cpu", "inference backend: cpu or cuda")
}

func (f *engineFlags) open() (*bindings.Engine, error) {
	return bindings.Open(bindings.Config{ModelsDir: f.models, Workers: f.workers, Backend: f.backend})
}

// analyzeFiles reads the photos at paths and analyses them in one batch with
// an engine opened for the call; it also returns that engine's model info.
func (f *engineFlags) analyzeFiles(paths []string, opts bindings.Options) ([]bindings.Result, bindings.Info, error) {
	images := make([][]byte, len(paths))
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, bindings.Info{}, err
		}
		images[i] = b
	}
	eng, err := f.open()
	if err != nil {
		return nil, bindings.Info{}, err
	}
	defer eng.Close()
	results, err := eng.Analyze(context.Background(), images, opts)
	return results, eng.Info(), err
}

// defaultModelsDir is $VIZOR_MODELS_DIR, else ./models, else the models
// directory beside the binary's bin/ (so bin/vizor works from anywhere).
func defaultModelsDir() string {
	if d := os.Getenv("VIZOR_MODELS_DIR"); d != "" {
		return d
	}
	if _, err := os.Stat(filepath.Join("models", "manifest.json")); err == nil {
		return "models"
	}
	if exe, err := os.Executable(); err == nil {
		d := filepath.Join(filepath.Dir(filepath.Dir(exe)), "models")
		if _, err := os.Stat(filepath.Join(d, "manifest.json")); err == nil {
			return d
		}
	}
	return "models"
}
