package bulk

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// Options configure an import.
type Options struct {
	Client      *Client
	Partition   string
	Concurrency int      // photos in flight at once
	Retries     int      // tries of a photo the server was too busy for
	Journal     *Journal // required
	Report      io.Writer
	Progress    *Progress // nil: none
}

// Summary counts an import's outcomes.
type Summary struct {
	Total    int
	Enrolled int // newly enrolled by this run
	Skipped  int // already enrolled (journal, or confirmed by the server)
	Refused  int // the server refused the photo (reported)
	Failed   int // unreadable, or the server stayed unavailable (reported)
}

// ReportHeader is the refusal report's first line.
var ReportHeader = []string{"path", "subject", "reason", "status", "message"}

// Import enrols items through the server. It returns early only on a
// failure no photo can get past (a wrong key or URL) or when ctx ends; the
// journal then lets the next run carry on.
func Import(ctx context.Context, items []Item, o Options) (Summary, error) {
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rep := csv.NewWriter(o.Report)
	rep.Write(ReportHeader)
	var (
		mu    sync.Mutex
		sum   = Summary{Total: len(items)}
		fatal error
	)
	outcome := func(it Item, kind string, reason string, status int, msg string) {
		mu.Lock()
		switch kind {
		case "enrolled":
			sum.Enrolled++
		case "skipped":
			sum.Skipped++
		case "refused":
			sum.Refused++
		case "failed":
			sum.Failed++
		}
		if reason != "" {
			st := ""
			if status > 0 {
				st = strconv.Itoa(status)
			}
			rep.Write([]string{it.Path, it.Subject, reason, st, msg})
			rep.Flush()
		}
		mu.Unlock()
		if o.Progress != nil {
			o.Progress.Add(kind)
		}
	}
	work := make(chan Item)
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				if err := importOne(ctx, it, o, outcome); err != nil {
					mu.Lock()
					if fatal == nil {
						fatal = err
					}
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
feed:
	for _, it := range items {
		select {
		case work <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	rep.Flush()
	if fatal == nil && ctx.Err() != nil {
		fatal = ctx.Err()
	}
	return sum, errors.Join(fatal, rep.Error())
}

// importOne enrols one photo unless the journal (or the server, for a photo
// a killed run had sent) says it is enrolled. It returns an error only for
// what stops the whole import.
func importOne(ctx context.Context, it Item, o Options, outcome func(Item, string, string, int, string)) error {
	img, err := os.ReadFile(it.Path)
	if err != nil {
		outcome(it, "failed", "unreadable", 0, err.Error())
		return nil
	}
	sum := sha256.Sum256(img)
	e := Entry{Server: o.Client.Base, Partition: o.Partition, Subject: it.Subject, SHA256: hex.EncodeToString(sum[:]), Path: it.Path, Meta: it.Meta}
	switch o.Journal.State(e) {
	case StateEnrolled:
		outcome(it, "skipped", "", 0, "")
		return nil
	case StateSent:
		var has bool
		err := retry(ctx, o.Retries, func() error {
			var err error
			has, err = o.Client.AlreadyEnrolled(ctx, img, it.Path, it.Subject, o.Partition)
			return err
		})
		var ref *Refusal
		switch {
		case errors.As(err, &ref):
			// The photo cannot be verified (no face, a gate): it was not
			// enrolled either; enrolling again reports why.
		case err != nil:
			return stop(err, it, outcome)
		case has:
			e.State = StateEnrolled
			if err := o.Journal.Record(e); err != nil {
				return err
			}
			outcome(it, "skipped", "", 0, "")
			return nil
		}
	}
	e.State = StateSent
	if err := o.Journal.Record(e); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	var tid string
	err = retry(ctx, o.Retries, func() error {
		var err error
		tid, err = o.Client.Enrol(ctx, img, it.Path, it.Subject, o.Partition)
		return err
	})
	var ref *Refusal
	if errors.As(err, &ref) {
		outcome(it, "refused", ref.Reason, ref.Status, ref.Message)
		return nil
	}
	if err != nil {
		return stop(err, it, outcome)
	}
	e.State, e.TemplateID = StateEnrolled, tid
	if err := o.Journal.Record(e); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	outcome(it, "enrolled", "", 0, "")
	return nil
}

// stop handles an error that is not a refusal: a transient one that outlived
// its retries fails this photo (reported); anything else stops the import.
func stop(err error, it Item, outcome func(Item, string, string, int, string)) error {
	var tr *Transient
	if errors.As(err, &tr) {
		outcome(it, "failed", "unavailable", 0, tr.Error())
		return nil
	}
	return err
}

// retry runs f until it succeeds, fails other than transiently, ctx ends,
// or tries run out, waiting as the server asked (Retry-After) in between.
func retry(ctx context.Context, tries int, f func() error) error {
	if tries < 1 {
		tries = 1
	}
	var err error
	for i := 0; i < tries; i++ {
		err = f()
		var tr *Transient
		if !errors.As(err, &tr) || i == tries-1 {
			return err
		}
		wait := tr.RetryAfter
		if wait <= 0 {
			wait = 500 * time.Millisecond // a connection error: the server may be restarting
		}
		wait <<= min(i, 4)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return err
}
