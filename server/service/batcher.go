package service

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Batcher is an Engine that merges concurrent single-image calls into one
// engine call. It dispatches as soon as an engine slot is free (so a lone
// request waits for nothing, unless Wait is set), and while every slot is
// busy it lets requests accumulate into the next batch, up to Max images.
// Slots bounds the batches in flight at once.
type Batcher struct {
	eng   Engine
	max   int
	wait  time.Duration
	reqs  chan *batchItem
	slots chan struct{}
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once

	// OnBatch, when set, is told the size of each dispatched batch.
	OnBatch func(n int)
}

type batchItem struct {
	ctx  context.Context
	img  []byte
	done chan batchOut
}

type batchOut struct {
	r   ImageResult
	err error
}

// NewBatcher wraps eng. max < 2 returns a batcher that passes calls through.
func NewBatcher(eng Engine, max, slots int, wait time.Duration) *Batcher {
	if slots < 1 {
		slots = 1
	}
	b := &Batcher{eng: eng, max: max, wait: wait, reqs: make(chan *batchItem, 1024),
		slots: make(chan struct{}, slots), stop: make(chan struct{})}
	if max >= 2 {
		b.wg.Add(1)
		go b.loop()
	}
	return b
}

// Status passes through.
func (b *Batcher) Status() EngineStatus { return b.eng.Status() }

// Analyze batches single images; other calls go straight to the engine.
func (b *Batcher) Analyze(ctx context.Context, images [][]byte) ([]ImageResult, error) {
	if b.max < 2 || len(images) != 1 {
		return b.eng.Analyze(ctx, images)
	}
	it := &batchItem{ctx: ctx, img: images[0], done: make(chan batchOut, 1)}
	select {
	case <-b.stop:
		return nil, newErr(ErrUnavailable, "engine is shutting down")
	default:
	}
	select {
	case b.reqs <- it:
	case <-b.stop:
		return nil, newErr(ErrUnavailable, "engine is shutting down")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case o := <-it.done:
		if o.err != nil {
			return nil, o.err
		}
		return []ImageResult{o.r}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops accepting calls and waits for batches in flight.
func (b *Batcher) Close() {
	b.once.Do(func() { close(b.stop) })
	b.wg.Wait()
}

func (b *Batcher) loop() {
	defer b.wg.Done()
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for {
		var first *batchItem
		select {
		case first = <-b.reqs:
		case <-b.stop:
			b.drain()
			return
		}
		batch := []*batchItem{first}
		// Optionally linger for companions while the engine may be idle.
		if b.wait > 0 {
			t := time.NewTimer(b.wait)
		linger:
			for len(batch) < b.max {
				select {
				case it := <-b.reqs:
					batch = append(batch, it)
				case <-t.C:
					break linger
				}
			}
			t.Stop()
		}
		// Wait for a free slot, collecting arrivals meanwhile.
	acquire:
		for {
			if len(batch) >= b.max {
				b.slots <- struct{}{}
				break
			}
			select {
			case b.slots <- struct{}{}:
				break acquire
			case it := <-b.reqs:
				batch = append(batch, it)
			}
		}
		// Take whatever else is already queued.
	more:
		for len(batch) < b.max {
			select {
			case it := <-b.reqs:
				batch = append(batch, it)
			default:
				break more
			}
		}
		inflight.Add(1)
		go func(batch []*batchItem) {
			defer inflight.Done()
			defer func() { <-b.slots }()
			b.run(batch)
		}(batch)
	}
}

// drain fails requests queued at shutdown.
func (b *Batcher) drain() {
	for {
		select {
		case it := <-b.reqs:
			it.done <- batchOut{err: newErr(ErrUnavailable, "engine is shutting down")}
		default:
			return
		}
	}
}

func (b *Batcher) run(batch []*batchItem) {
	live := batch[:0:0]
	imgs := make([][]byte, 0, len(batch))
	for _, it := range batch {
		if it.ctx.Err() != nil {
			it.done <- batchOut{err: it.ctx.Err()}
			continue
		}
		live = append(live, it)
		imgs = append(imgs, it.img)
	}
	if len(live) == 0 {
		return
	}
	if b.OnBatch != nil {
		b.OnBatch(len(live))
	}
	// The batch outlives any single caller's deadline: it runs under a
	// context that ends when every caller has gone.
	ctx, cancel := mergedContext(live)
	defer cancel()
	if skipsPAD(live) {
		ctx = WithoutPAD(ctx)
	}
	rs, err := b.eng.Analyze(ctx, imgs)
	if err != nil && len(live) > 1 && ctx.Err() == nil && !errors.Is(err, ErrUnavailable) {
		// One image may have failed the whole call: try each alone, so a
		// failure costs only the request that caused it.
		for _, it := range live {
			r, err := b.eng.Analyze(it.ctx, [][]byte{it.img})
			switch {
			case err != nil:
				it.done <- batchOut{err: err}
			case len(r) == 1:
				it.done <- batchOut{r: r[0]}
			default:
				it.done <- batchOut{err: newErr(ErrInternal, "engine returned too few results")}
			}
		}
		return
	}
	for i, it := range live {
		switch {
		case err != nil:
			it.done <- batchOut{err: err}
		case i < len(rs):
			it.done <- batchOut{r: rs[i]}
		default:
			it.done <- batchOut{err: newErr(ErrInternal, "engine returned too few results")}
		}
	}
}

// mergedContext is cancelled when all the items' contexts are done, or by
// the returned stop function.
func mergedContext(items []*batchItem) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	var left atomic.Int32
	left.Store(int32(len(items)))
	stops := make([]func() bool, len(items))
	for i, it := range items {
		stops[i] = context.AfterFunc(it.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, s := range stops {
			s()
		}
		cancel()
	}
}
