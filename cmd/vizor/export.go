package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"vizor/gallery"
	"vizor/internal/bulk"
)

func init() {
	register("export", "write a gallery's templates and subjects as JSON lines (from data_dir, server stopped)", runExport)
}

func runExport(args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	dataDir := fs.String("data-dir", envOr("VIZOR_DATA_DIR", "./data"), "gallery directory (the server's data_dir); the server must be stopped, it holds the store's lock")
	parts := fs.String("partition", "", "partitions to export, comma-separated (default: all)")
	images := fs.Bool("images", false, "add the enrolment images the gallery kept (keep_images=true) as base64")
	out := fs.String("o", "-", "output file (- is standard output)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vizor export [flags]\n\nOne JSON object a line: partition, subject, template_id, model, dim, created, meta, template (the floats)[, image].")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		fs.Usage()
		return errors.New("export takes no arguments")
	}
	if _, err := os.Stat(*dataDir); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	g, err := gallery.Open(gallery.Config{Dir: *dataDir})
	if err != nil {
		return fmt.Errorf("%w (is the server still running? export reads the store directly)", err)
	}
	var w io.Writer = os.Stdout
	var f *os.File
	if *out != "-" {
		if f, err = os.Create(*out); err != nil {
			g.Close()
			return err
		}
		w = f
	}
	var ps []string
	for _, p := range strings.Split(*parts, ",") {
		if p = strings.TrimSpace(p); p != "" {
			ps = append(ps, p)
		}
	}
	n, err := bulk.Export(g, w, bulk.ExportOptions{Partitions: ps, Images: *images})
	if f != nil {
		err = errors.Join(err, f.Close())
	}
	err = errors.Join(err, g.Close())
	fmt.Fprintf(os.Stderr, "export: %d templates\n", n)
	return err
}
