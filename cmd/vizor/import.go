package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"vizor/internal/bulk"
)

func init() {
	register("import", "enrol a folder or a CSV list of photos through a running server (resumable, with a refusal report)", runImport)
}

// parseInterleaved parses flags that may come before or after the
// positional arguments (vizor import DIR -partition p).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func runImport(args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	partition := fs.String("partition", "default", "gallery partition to enrol into (created by the first enrolment)")
	server := fs.String("server", envOr("VIZOR_SERVER", "http://127.0.0.1:8080"), "server URL (one node, or a load balancer in front of many); env VIZOR_SERVER")
	key := fs.String("api-key", os.Getenv("VIZOR_API_KEY"), "x-api-key sent with every request; env VIZOR_API_KEY")
	conc := fs.Int("c", 4, "photos in flight at once")
	journal := fs.String("journal", "", "journal file that makes a re-run skip what is enrolled (default vizor-import-<partition>.journal.jsonl in the current folder)")
	report := fs.String("report", "", "refusal report, CSV path,subject,reason,status,message (default vizor-import-<partition>-refused.csv in the current folder)")
	ruleName := fs.String("subject-rule", string(bulk.RuleTrimDigits), "subjects of a folder's top-level photos: trim-digits (jimin3.jpg -> jimin) or stem (jimin3.jpg -> jimin3); photos in sub-folders belong to the sub-folder's name")
	retries := fs.Int("retries", 6, "tries of a photo while the server is busy (503) or unreachable")
	timeout := fs.Duration("timeout", 2*time.Minute, "deadline of one request")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vizor import [flags] DIR|list.csv\n\nA CSV has lines path,subject[,meta...] (paths relative to the CSV's folder; an optional header path,subject,...).")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("import takes one folder or CSV file")
	}
	if *conc < 1 || *conc > 256 {
		return errors.New("-c must be between 1 and 256")
	}
	rule, err := bulk.ParseRule(*ruleName)
	if err != nil {
		return err
	}
	if *journal == "" {
		*journal = "vizor-import-" + safeName(*partition) + ".journal.jsonl"
	}
	if *report == "" {
		*report = "vizor-import-" + safeName(*partition) + "-refused.csv"
	}
	items, err := bulk.List(pos[0], rule)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return fmt.Errorf("%s: no photos (.jpg, .jpeg, .png, .webp, .bmp, .tif, .tiff, .gif)", pos[0])
	}
	j, err := bulk.OpenJournal(*journal)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	rep, err := os.Create(*report)
	if err != nil {
		j.Close()
		return fmt.Errorf("report: %w", err)
	}
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	prog := bulk.NewProgress(os.Stderr, bulk.IsTerminal(os.Stderr), len(items))
	client := &bulk.Client{Base: strings.TrimRight(*server, "/"), APIKey: *key,
		HTTP: &http.Client{Timeout: *timeout, Transport: &http.Transport{MaxIdleConnsPerHost: *conc}}}
	sum, ierr := bulk.Import(ctx, items, bulk.Options{Client: client, Partition: *partition, Concurrency: *conc,
		Retries: *retries, Journal: j, Report: rep, Progress: prog})
	prog.Finish()
	err = errors.Join(ierr, j.Close(), rep.Close())

	fmt.Printf("import: %d photos, partition %s, server %s\n", sum.Total, *partition, client.Base)
	if sum.Enrolled == 0 && sum.Skipped > 0 {
		fmt.Printf("  enrolled:          0 (nothing new: %d already enrolled)\n", sum.Skipped)
	} else {
		fmt.Printf("  enrolled:          %d\n", sum.Enrolled)
		fmt.Printf("  already enrolled:  %d (skipped)\n", sum.Skipped)
	}
	fmt.Printf("  refused:           %d (reasons in %s)\n", sum.Refused, *report)
	if sum.Failed > 0 {
		fmt.Printf("  failed:            %d (unreadable or server unavailable; in %s: run the same command again)\n", sum.Failed, *report)
	}
	if left := sum.Total - sum.Enrolled - sum.Skipped - sum.Refused - sum.Failed; left > 0 {
		fmt.Printf("  not done:          %d (stopped: run the same command again to resume; journal %s)\n", left, *journal)
	}
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%d photos failed", sum.Failed)
	}
	return nil
}

// safeName keeps a partition name usable in a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ':' {
			return '_'
		}
		return r
	}, s)
}
