package engineproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"sync"

	"vizor/bindings"
)

// Opener opens the engine a worker serves (bindings.Open in the binary;
// tests may pass their own).
type Opener func(bindings.Config) (bindings.Analyzer, error)

// ServeWorker is the worker side: it reads the hello from in, opens the
// engine, then answers requests until in closes (the parent exited or closed
// the pipe), which returns nil. It runs one request at a time; a cancel frame
// for the running request cancels its context, which stops the native work
// at its next stage boundary.
func ServeWorker(in io.Reader, out io.Writer, open Opener) error {
	dec := gob.NewDecoder(bufio.NewReaderSize(in, 1<<16))
	bw := bufio.NewWriterSize(out, 1<<16)
	enc := gob.NewEncoder(bw)
	var h hello
	if err := dec.Decode(&h); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("engine worker: reading hello: %w", err)
	}
	eng, err := open(h.Config)
	if err != nil {
		_ = enc.Encode(helloReply{Err: toWire(err)})
		_ = bw.Flush()
		return err
	}
	defer eng.Close()
	if err := enc.Encode(helloReply{Info: eng.Info()}); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}

	var (
		mu      sync.Mutex // guards the encoder and running
		running = map[uint64]context.CancelFunc{}
		wg      sync.WaitGroup
		werr    error
	)
	defer wg.Wait()
	for {
		var m toWorker
		if err := dec.Decode(&m); err != nil {
			mu.Lock()
			for _, cancel := range running {
				cancel()
			}
			mu.Unlock()
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return fmt.Errorf("engine worker: reading request: %w", err)
		}
		if m.Cancel {
			mu.Lock()
			if cancel := running[m.ID]; cancel != nil {
				cancel()
			}
			mu.Unlock()
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		mu.Lock()
		running[m.ID] = cancel
		mu.Unlock()
		wg.Add(1)
		go func(m toWorker) {
			defer wg.Done()
			crashOnMarker(m.Images)
			rs, err := eng.Analyze(ctx, m.Images, m.Opts)
			reply := fromWorker{ID: m.ID, Results: resultsToWire(rs), Err: toWire(err)}
			mu.Lock()
			defer mu.Unlock()
			delete(running, m.ID)
			cancel()
			if werr != nil {
				return
			}
			if werr = enc.Encode(reply); werr == nil {
				werr = bw.Flush()
			}
		}(m)
	}
}

// crashOnMarker crashes the worker, in native code, when built for the
// crash tests (bindings.DebugCrash is nil otherwise) and an image carries
// the marker in its first 256 bytes (e.g. in a JPEG comment, so the image
// passes every header check on its way here).
func crashOnMarker(images [][]byte) {
	if bindings.DebugCrash == nil {
		return
	}
	for _, img := range images {
		if bytes.Contains(img[:min(len(img), 256)], []byte(bindings.DebugCrashMarker)) {
			bindings.DebugCrash()
		}
	}
}
