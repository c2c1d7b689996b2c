// Package engineproc runs the native engine in supervised worker processes.
// A crash in native code (a decoder or OpenCV bug, a bad model) then kills
// one worker, not the server: the request it was running is answered with an
// error, the other images of its batch are retried on healthy workers, and
// the pool starts a new worker. ollama runs its model runner the same way.
//
// Each worker is the vizor binary itself (`vizor engine-worker`) talking
// gob over two pipes (fds 3 and 4 in the child, so nothing native code prints
// on stdout can corrupt the protocol). A worker runs one call at a time; the
// pool keeps Procs of them, so a pool of 2 single-threaded workers does what
// one in-process engine with 2 workers does.
package engineproc

import (
	"bufio"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"vizor/bindings"
)

// Config configures a pool.
type Config struct {
	// Command starts one worker, e.g. {"/path/to/vizor", "engine-worker"}.
	Command []string
	// Engine is each worker's engine config (Workers is per worker: 1 is
	// the usual choice, with Procs workers).
	Engine bindings.Config
	// Procs is the number of worker processes; 0: 1.
	Procs int
	// Stderr receives the workers' stdout and stderr; nil: os.Stderr.
	Stderr io.Writer
	// CancelGrace is how long a worker may take to answer after its request
	// was cancelled before it is killed and replaced; 0: 2 s.
	CancelGrace time.Duration
	// StartTimeout bounds a worker's start (engine load); 0: 2 min.
	StartTimeout time.Duration
	// OnRestart, when set, is told each time a worker is replaced and why.
	OnRestart func(reason string)
}

// ErrWorkerCrashed is the error of an image whose worker died twice while
// analysing it (alone the second time): the image crashes the engine.
var ErrWorkerCrashed = errors.New("engine worker crashed on this image")

// Pool is a set of supervised engine workers. It implements bindings.Analyzer.
type Pool struct {
	cfg    Config
	info   bindings.Info
	idle   idleStack
	closed chan struct{}
	once   sync.Once
	wg     sync.WaitGroup // supervisors and post-cancel waiters

	mu    sync.Mutex
	procs map[*proc]struct{}

	nextID   atomic.Uint64
	restarts atomic.Int64
}

var _ bindings.Analyzer = (*Pool)(nil)

// Start starts cfg.Procs workers and waits until each has loaded its
// engine. It fails when the first worker cannot start (bad models, say).
func Start(cfg Config) (*Pool, error) {
	if len(cfg.Command) == 0 {
		return nil, errors.New("engineproc: no worker command")
	}
	if cfg.Procs <= 0 {
		cfg.Procs = 1
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.CancelGrace <= 0 {
		cfg.CancelGrace = 2 * time.Second
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 2 * time.Minute
	}
	p := &Pool{cfg: cfg, idle: newIdleStack(cfg.Procs), closed: make(chan struct{}), procs: map[*proc]struct{}{}}
	for i := 0; i < cfg.Procs; i++ {
		w, info, err := p.spawn()
		if err != nil {
			p.Close()
			return nil, err
		}
		if i == 0 {
			p.info = info
			p.info.Workers = info.Workers * cfg.Procs
		}
		p.idle.put(w)
	}
	return p, nil
}

// Info is the first worker's engine info, with Workers counting the whole
// pool.
func (p *Pool) Info() bindings.Info { return p.info }

// Restarts is the number of workers replaced since Start.
func (p *Pool) Restarts() int64 { return p.restarts.Load() }

// Alive is the number of workers running now.
func (p *Pool) Alive() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for w := range p.procs {
		select {
		case <-w.dead:
		default:
			n++
		}
	}
	return n
}

// Analyze runs one call on an idle worker. When the worker dies during the
// call, each image is tried again alone; an image whose lone attempt kills a
// worker too gets ErrWorkerCrashed (wrapping bindings.ErrInternal) as its
// own error, so the others of the batch are answered as usual.
func (p *Pool) Analyze(ctx context.Context, images [][]byte, opts bindings.Options) ([]bindings.Result, error) {
	if len(images) == 0 {
		return nil, nil
	}
	rs, err := p.call(ctx, images, opts)
	if !errors.Is(err, errCrashed) {
		return rs, err
	}
	out := make([]bindings.Result, len(images))
	errs := make([]error, len(images))
	var wg sync.WaitGroup
	for i := range images {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := p.call(ctx, images[i:i+1], opts)
			switch {
			case errors.Is(err, errCrashed):
				out[i] = bindings.Result{Err: &bindings.Error{Kind: bindings.ErrInternal, Message: fmt.Sprintf("%v (%v)", ErrWorkerCrashed, err)}}
			case err != nil:
				errs[i] = err
			default:
				out[i] = r[0]
			}
		}(i)
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return nil, e
		}
	}
	return out, nil
}

// errCrashed marks a call whose worker died before answering.
var errCrashed = errors.New("engine worker died")

// call runs images on one worker: results, a whole-call error from the
// engine, ctx's error, or an error wrapping errCrashed.
func (p *Pool) call(ctx context.Context, images [][]byte, opts bindings.Options) ([]bindings.Result, error) {
	var w *proc
	for w == nil {
		select {
		case <-p.idle.avail:
			w = p.idle.pop()
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-p.closed:
			return nil, bindings.ErrClosed
		}
		select {
		case <-w.dead: // died while idle: its supervisor brings a new one
			w = nil
		default:
		}
	}
	id := p.nextID.Add(1)
	if err := w.send(toWorker{ID: id, Images: images, Opts: opts}); err != nil {
		w.kill()
		return nil, fmt.Errorf("%w: %v", errCrashed, err)
	}
	select {
	case r := <-w.replies:
		p.idle.put(w)
		if r.Err != nil {
			return nil, r.Err.toErr()
		}
		if len(r.Results) != len(images) {
			return nil, &bindings.Error{Kind: bindings.ErrInternal, Message: "engine worker returned a wrong number of results"}
		}
		return resultsFromWire(r.Results), nil
	case <-w.dead:
		return nil, fmt.Errorf("%w: %v", errCrashed, w.exitReason())
	case <-ctx.Done():
		// Stop the native work at its next stage boundary; the worker
		// returns to the pool once it has answered, or is replaced when it
		// does not answer within the grace.
		_ = w.send(toWorker{ID: id, Cancel: true})
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			t := time.NewTimer(p.cfg.CancelGrace)
			defer t.Stop()
			select {
			case <-w.replies:
				p.idle.put(w)
			case <-w.dead:
			case <-t.C:
				w.killWith("no answer within the cancel grace")
			}
		}()
		return nil, ctx.Err()
	}
}

// Close stops every worker (closing their pipes ends them; a worker that
// does not exit within 5 s is killed) and is safe to call twice. Calls in
// flight fail with bindings.ErrClosed or their worker's end.
func (p *Pool) Close() error {
	p.once.Do(func() {
		close(p.closed)
		p.mu.Lock()
		ws := make([]*proc, 0, len(p.procs))
		for w := range p.procs {
			ws = append(ws, w)
		}
		p.mu.Unlock()
		for _, w := range ws {
			w.closeInput()
		}
		deadline := time.After(5 * time.Second)
		for _, w := range ws {
			select {
			case <-w.exited:
			case <-deadline:
				w.kill()
				<-w.exited
			}
		}
		p.wg.Wait()
	})
	return nil
}

// spawn starts one worker and waits for its engine to load. The worker's
// supervisor replaces it when it dies, until the pool closes.
func (p *Pool) spawn() (*proc, bindings.Info, error) {
	w, info, err := startProc(p.cfg)
	if err != nil {
		return nil, info, err
	}
	p.mu.Lock()
	p.procs[w] = struct{}{}
	p.mu.Unlock()
	p.wg.Add(1)
	go p.supervise(w)
	return w, info, nil
}

// supervise waits for w to die and, unless the pool is closing, starts a
// replacement (with back-off while starts fail) and makes it idle.
func (p *Pool) supervise(w *proc) {
	defer p.wg.Done()
	<-w.exited
	p.mu.Lock()
	delete(p.procs, w)
	p.mu.Unlock()
	select {
	case <-p.closed:
		return
	default:
	}
	reason := w.exitReason().Error()
	p.restarts.Add(1)
	if p.cfg.OnRestart != nil {
		p.cfg.OnRestart(reason)
	}
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-p.closed:
			return
		default:
		}
		nw, _, err := p.spawn()
		if err == nil {
			// A call may have taken w from idle and be waiting on it: w's
			// dead channel releases it. The replacement takes w's place.
			select {
			case <-p.closed:
				nw.closeInput()
			default:
				p.idle.put(nw)
			}
			return
		}
		fmt.Fprintf(p.cfg.Stderr, "engineproc: restarting a worker failed (retry in %v): %v\n", backoff, err)
		select {
		case <-time.After(backoff):
		case <-p.closed:
			return
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// proc is one worker process.
type proc struct {
	cmd     *exec.Cmd
	in      io.WriteCloser // the worker's requests pipe
	bw      *bufio.Writer
	enc     *gob.Encoder
	sendMu  sync.Mutex
	replies chan fromWorker
	dead    chan struct{} // closed when the reply stream ended
	exited  chan struct{} // closed after Wait returned
	reason  atomic.Value  // string: why it died, once known
	killMsg atomic.Value  // string: why the pool killed it
}

func startProc(cfg Config) (*proc, bindings.Info, error) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, bindings.Info{}, err
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, bindings.Info{}, err
	}
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Stdout = cfg.Stderr
	cmd.Stderr = cfg.Stderr
	cmd.ExtraFiles = []*os.File{reqR, repW} // fds 3 and 4 in the worker
	// The worker dies with the server even on kill -9 (and reads EOF on fd 3
	// anyway); it ignores the terminal's Ctrl-C, so a graceful shutdown can
	// still finish the requests in flight.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		reqR.Close()
		reqW.Close()
		repR.Close()
		repW.Close()
		return nil, bindings.Info{}, fmt.Errorf("engine worker: %w", err)
	}
	reqR.Close()
	repW.Close()
	w := &proc{cmd: cmd, in: reqW, bw: bufio.NewWriterSize(reqW, 1<<16),
		replies: make(chan fromWorker, 1), dead: make(chan struct{}), exited: make(chan struct{})}
	w.enc = gob.NewEncoder(w.bw)
	dec := gob.NewDecoder(bufio.NewReaderSize(repR, 1<<16))
	go func() {
		err := cmd.Wait()
		if err != nil {
			w.reason.CompareAndSwap(nil, err.Error())
		} else {
			w.reason.CompareAndSwap(nil, "exited")
		}
		close(w.exited)
	}()

	// Hello: the engine config out, the engine's info (or its error) back.
	type helloOut struct {
		r   helloReply
		err error
	}
	hc := make(chan helloOut, 1)
	go func() {
		var r helloReply
		err := w.send(hello{Config: cfg.Engine})
		if err == nil {
			err = dec.Decode(&r)
		}
		hc <- helloOut{r, err}
	}()
	var h helloOut
	select {
	case h = <-hc:
	case <-time.After(cfg.StartTimeout):
		h.err = fmt.Errorf("no answer within %v", cfg.StartTimeout)
	}
	if h.err == nil && h.r.Err != nil {
		h.err = h.r.Err.toErr()
	}
	if h.err != nil {
		w.kill()
		<-w.exited
		repR.Close()
		return nil, bindings.Info{}, fmt.Errorf("engine worker did not start: %w", h.err)
	}
	go func() {
		defer repR.Close()
		defer close(w.dead)
		for {
			var r fromWorker
			if err := dec.Decode(&r); err != nil {
				<-w.exited // the pipe ends with the process: report its status
				return
			}
			w.replies <- r
		}
	}()
	return w, h.r.Info, nil
}

func (w *proc) send(v any) error {
	w.sendMu.Lock()
	defer w.sendMu.Unlock()
	if err := w.enc.Encode(v); err != nil {
		return err
	}
	return w.bw.Flush()
}

func (w *proc) closeInput() {
	w.sendMu.Lock()
	defer w.sendMu.Unlock()
	_ = w.in.Close()
}

func (w *proc) kill() { w.killWith("killed") }

func (w *proc) killWith(why string) {
	w.killMsg.CompareAndSwap(nil, why)
	if w.cmd.Process != nil {
		_ = w.cmd.Process.Kill()
	}
}

// exitReason says how the worker ended (its exit status or signal, and why
// the pool killed it if it did).
func (w *proc) exitReason() error {
	r, _ := w.reason.Load().(string)
	if r == "" {
		r = "pipe closed"
	}
	if k, _ := w.killMsg.Load().(string); k != "" {
		r = k + ": " + r
	}
	return errors.New(r)
}

// idleStack holds the idle workers, last in first out: at low load the same
// worker serves call after call with its caches warm (alternating between
// two workers cost the probe about 1 ms in isolation-bench).
type idleStack struct {
	avail chan struct{} // one token per idle worker
	mu    sync.Mutex
	ws    []*proc
}

func newIdleStack(n int) idleStack { return idleStack{avail: make(chan struct{}, n)} }

func (s *idleStack) put(w *proc) {
	s.mu.Lock()
	s.ws = append(s.ws, w)
	s.mu.Unlock()
	s.avail <- struct{}{}
}

// pop takes the most recently idle worker; the caller holds a token.
func (s *idleStack) pop() *proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.ws[len(s.ws)-1]
	s.ws = s.ws[:len(s.ws)-1]
	return w
}
