package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"vizor/gallery"
	"vizor/gallery/migrate"
	"vizor/gallery/weaviate"
)

func init() {
	register("migrate", "copy the embedded gallery (data_dir, server stopped) into a Weaviate cluster; resumable", runMigrate)
}

func runMigrate(args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	dataDir := fs.String("data-dir", envOr("VIZOR_DATA_DIR", "./data"), "embedded gallery directory (the server's data_dir); stop the server first, it holds the store's lock")
	to := fs.String("to", envOr("VIZOR_GALLERY", ""), "the cluster: weaviate://HOST:PORT?grpc=PORT&... (as -gallery of vizor serve)")
	parts := fs.String("partition", "", "partitions to copy, comma-separated (default: all)")
	batch := fs.Int("batch", 500, "templates per acknowledged batch")
	checkpoint := fs.String("checkpoint", "vizor-migrate.checkpoint", "progress file: a re-run starts after what it records")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vizor migrate -data-dir DIR -to weaviate://HOST:PORT?grpc=PORT\n\nCopies every partition, subject, template, metadata and kept image. Run it again after an interruption: it resumes from -checkpoint, and a batch sent twice is stored once (copies are keyed by source template id).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !strings.HasPrefix(*to, "weaviate://") {
		return fmt.Errorf("migrate: -to must be a weaviate:// URL")
	}
	wc, err := weaviate.ParseURL(*to)
	if err != nil {
		return err
	}
	g, err := gallery.Open(gallery.Config{Dir: *dataDir})
	if err != nil {
		return fmt.Errorf("migrate: %s: %w", *dataDir, err)
	}
	defer g.Close()
	dst, err := weaviate.Open(wc)
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := dst.Check(); err != nil {
		return err
	}
	o := migrate.Options{Batch: *batch, Checkpoint: *checkpoint}
	if *parts != "" {
		o.Partitions = strings.Split(*parts, ",")
	}
	tty := isTTY(os.Stderr)
	start, last := time.Now(), time.Time{}
	o.Progress = func(done, total int) {
		if !tty && time.Since(last) < 5*time.Second && done < total {
			return
		}
		last = time.Now()
		fmt.Fprint(os.Stderr, progressLine(done, total, time.Since(start), tty))
	}
	r, err := migrate.Run(gallery.Embedded{Gallery: g}, dst, o)
	if tty {
		fmt.Fprintln(os.Stderr)
	}
	fmt.Fprintf(os.Stderr, "migrate: %d partitions, %d templates copied, %d already copied (checkpoint %s)\n", r.Partitions, r.Copied, r.Skipped, *checkpoint)
	return err
}

func isTTY(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressLine is a bar redrawn in place on a terminal, a plain line
// elsewhere (logs, CI).
func progressLine(done, total int, el time.Duration, tty bool) string {
	rate := float64(done) / max(el.Seconds(), 1e-9)
	eta := "?"
	if rate > 0 {
		eta = (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second).String()
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	line := fmt.Sprintf("%d/%d templates (%.0f%%) %.0f/s ETA %s", done, total, pct, rate, eta)
	if !tty {
		return "migrate: " + line + "\n"
	}
	const width = 30
	fill := width
	if total > 0 {
		fill = width * done / total
	}
	return "\r[" + strings.Repeat("#", fill) + strings.Repeat(".", width-fill) + "] " + line + "\x1b[K"
}
