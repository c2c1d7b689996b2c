package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"vizor/server/compreface"
)

func init() {
	register("compreface-keys", "create, list or delete CompreFace API keys (recognition, detection, verification services)", runKeys)
}

// runKeys manages the CompreFace keys file the server reads (and re-reads
// when it changes, so new keys work without a restart).
//
//	vizor compreface-keys create -type recognition [-name NAME]
//	vizor compreface-keys list [-json]
//	vizor compreface-keys delete KEY
func runKeys(args []string) error {
	fs := flag.NewFlagSet("compreface-keys", flag.ContinueOnError)
	dataDir := fs.String("data-dir", envOr("VIZOR_DATA_DIR", "./data"), "gallery data directory (env VIZOR_DATA_DIR); the keys file defaults to <data-dir>/compreface/keys.json")
	keysFile := fs.String("keys-file", os.Getenv("VIZOR_COMPREFACE_KEYS_FILE"), "keys file (env VIZOR_COMPREFACE_KEYS_FILE); overrides -data-dir")
	typ := fs.String("type", "recognition", "create: service type: recognition, detection or verification")
	name := fs.String("name", "", "create: a name for the key (shown by list)")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vizor compreface-keys create|list|delete [flags] [KEY]")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return errors.New("missing action: create, list or delete")
	}
	action := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	path := compreface.KeysPath(*keysFile, *dataDir)
	switch action {
	case "create":
		k, err := compreface.CreateKey(path, *typ, *name)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(os.Stdout).Encode(k)
		}
		fmt.Println(k.Key)
		return nil
	case "list":
		kf, err := compreface.ReadKeys(path)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(os.Stdout).Encode(kf.Keys)
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "KEY\tTYPE\tNAME\tCREATED\tCOLLECTION")
		for _, k := range kf.Keys {
			coll := "-"
			if k.Type == compreface.Recognition {
				coll = compreface.Partition(k.Key)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.Key, k.Type, k.Name, k.Created.Format("2006-01-02T15:04:05Z"), coll)
		}
		return w.Flush()
	case "delete":
		if fs.NArg() != 1 {
			return errors.New("delete needs the key")
		}
		return compreface.DeleteKey(path, fs.Arg(0))
	}
	return fmt.Errorf("unknown action %q (want create, list or delete)", action)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
