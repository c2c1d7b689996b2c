package service_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vizor/server/service"
	st "vizor/server/service/servicetest"
)

// poisoned fails a whole engine call when any image of it is the poison, as
// an engine whose batch call throws on one bad image would.
type poisoned struct {
	*st.FakeEngine
	poisonedBatch *atomic.Int64 // size of the largest call that held the poison
}

var poison = []byte("POISON")

func (p poisoned) Analyze(ctx context.Context, images [][]byte) ([]service.ImageResult, error) {
	for _, img := range images {
		if bytes.Equal(img, poison) {
			if n := int64(len(images)); n > p.poisonedBatch.Load() {
				p.poisonedBatch.Store(n)
			}
			return nil, &service.Error{Kind: service.ErrInternal, Msg: "engine failure"}
		}
	}
	return p.FakeEngine.Analyze(ctx, images)
}

// A whole-call failure caused by one image of a micro-batch fails only the
// request that sent it: the batch is retried image by image.
func TestBatcherIsolatesAFailingImage(t *testing.T) {
	e := poisoned{&st.FakeEngine{Delay: 30 * time.Millisecond}, &atomic.Int64{}}
	b := service.NewBatcher(e, 8, 1, 0)
	defer b.Close()
	// Occupy the only slot so that the next requests queue into one batch.
	go func() { _, _ = b.Analyze(context.Background(), [][]byte{st.Image(good)}) }()
	time.Sleep(5 * time.Millisecond)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			img := st.Image(good)
			if i == 3 {
				img = poison
			}
			_, errs[i] = b.Analyze(context.Background(), [][]byte{img})
		}(i)
	}
	wg.Wait()
	if e.poisonedBatch.Load() < 2 {
		t.Fatalf("the poison was not batched with others (batch of %d): the test proves nothing", e.poisonedBatch.Load())
	}
	for i, err := range errs {
		if i == 3 {
			if !errors.Is(err, service.ErrInternal) {
				t.Errorf("poison request: %v, want the engine failure", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("request %d failed with its neighbour's image: %v", i, err)
		}
	}
}
