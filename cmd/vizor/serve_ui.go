package main

import (
	"context"

	"vizor/bindings"
	"vizor/server"
	"vizor/server/compat"
	"vizor/server/config"
	"vizor/server/ui"
)

// withConsole adds the web console (/ui) to the main listener's flavour
// unless the ui setting is off. Its detection endpoint runs the full
// analysis (PAD and quality need the aligned face), bounded to the faces
// the page draws.
func withConsole(cfg config.Config, fl server.Flavour, eng bindings.Analyzer) server.Flavour {
	if !cfg.UI {
		return fl
	}
	e := compat.Engine{E: eng}
	return ui.With(fl, func(ctx context.Context, img []byte) (int, int, []bindings.Face, error) {
		a, err := e.AnalyzeDetail(ctx, img, compat.DetailOptions{Template: true, MaxFaces: 32})
		return a.Width, a.Height, a.Faces, err
	})
}
