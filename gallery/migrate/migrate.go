// Package migrate copies a gallery from one backend to another (the
// embedded store into a Weaviate cluster): every partition, subject,
// template (vector, model, metadata) and kept image, in batches.
//
// It is resumable twice over: a checkpoint file records, per partition,
// the last source template copied (a re-run starts after it), and each
// copy is keyed by its source template id, so a batch sent again (the run
// was killed before the checkpoint was written) lands on the same objects
// in a backend that derives ids from keys instead of adding duplicates.
package migrate

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"vizor/gallery"
)

// Options tune a migration.
type Options struct {
	// Partitions to copy (nil: all).
	Partitions []string
	// Batch is the number of templates per EnrolBatch (500).
	Batch int
	// Checkpoint is the file that records progress ("" : none).
	Checkpoint string
	// Progress is called after each batch with templates done and total.
	Progress func(done, total int)
	// Stop, when it returns true after a batch, ends the run early (tests
	// use it to stand for a killed run).
	Stop func() bool
}

// Result counts what a run did.
type Result struct {
	Partitions int
	Copied     int // templates written by this run
	Skipped    int // templates a previous run had copied (checkpoint)
}

// Key is the idempotency key of a copied template.
func Key(id uint64) string { return "migrate/" + gallery.FormatID(id) }

// Run copies src into dst.
func Run(src, dst gallery.Backend, o Options) (Result, error) {
	if o.Batch <= 0 {
		o.Batch = 500
	}
	parts := o.Partitions
	if parts == nil {
		var err error
		if parts, err = src.ListPartitions(); err != nil {
			return Result{}, err
		}
	}
	done, err := readCheckpoint(o.Checkpoint)
	if err != nil {
		return Result{}, err
	}
	type job struct {
		part  string
		infos []gallery.TemplateInfo
	}
	var jobs []job
	total := 0
	for _, p := range parts {
		infos, err := src.Templates(p, "")
		if err != nil {
			return Result{}, fmt.Errorf("partition %s: %w", p, err)
		}
		jobs = append(jobs, job{p, infos})
		total += len(infos)
	}
	res := Result{Partitions: len(jobs)}
	n := 0
	for _, j := range jobs {
		last, started := done[j.part]
		var batch []gallery.BatchItem
		var ids []uint64
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			if _, err := dst.EnrolBatch(j.part, batch); err != nil {
				return fmt.Errorf("partition %s: %w", j.part, err)
			}
			res.Copied += len(batch)
			n += len(batch)
			if err := appendCheckpoint(o.Checkpoint, j.part, ids[len(ids)-1]); err != nil {
				return err
			}
			if o.Progress != nil {
				o.Progress(n, total)
			}
			batch, ids = batch[:0], ids[:0]
			return nil
		}
		for _, info := range j.infos {
			if started && info.ID <= last {
				res.Skipped++
				n++
				continue
			}
			_, t, err := src.TemplateIn(j.part, info.ID)
			if err != nil {
				return res, err
			}
			opts := gallery.EnrolOptions{Meta: info.Meta, Key: Key(info.ID)}
			if info.HasImage {
				img, _, err := src.ImageIn(j.part, info.ID)
				if err != nil && !errors.Is(err, gallery.ErrImageNotFound) {
					return res, err
				}
				opts.Image, opts.KeepImage = img, img != nil
			}
			batch = append(batch, gallery.BatchItem{Subject: info.Subject, Template: t, Options: opts})
			ids = append(ids, info.ID)
			if len(batch) == o.Batch {
				if err := flush(); err != nil {
					return res, err
				}
				if o.Stop != nil && o.Stop() {
					return res, nil
				}
			}
		}
		if err := flush(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// The checkpoint is one line per finished batch: partition TAB last source
// id. Ids are listed in increasing order by the embedded store, so "after
// the last id" is "not yet copied".
func readCheckpoint(path string) (map[string]uint64, error) {
	out := map[string]uint64{}
	if path == "" {
		return out, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p, id, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue // a line cut short by a kill
		}
		if v, err := strconv.ParseUint(id, 10, 64); err == nil && v > out[p] {
			out[p] = v
		}
	}
	return out, sc.Err()
}

func appendCheckpoint(path, part string, id uint64) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s\t%d\n", part, id)
	if err2 := f.Sync(); err == nil {
		err = err2
	}
	if err2 := f.Close(); err == nil {
		err = err2
	}
	return err
}
