package compat

import (
	"github.com/rs/zerolog"

	"vizor/gallery"
	"vizor/server"
	"vizor/server/config"
	"vizor/server/service"
)

// Deps are what every compatibility flavour runs on: the process's one
// service (gate order, micro-batcher), engine and gallery.
type Deps struct {
	Cfg     config.Config
	Log     zerolog.Logger
	Metrics *server.Metrics
	Svc     *service.Service
	Engine  Analyzer
	Gallery gallery.Backend
}

// MaxImage is the per-image byte limit.
func (d Deps) MaxImage() int { return d.Cfg.Compat.CompatMaxImageMB << 20 }

// Threshold is the calibrated cosine match threshold of the service.
func (d Deps) Threshold() float32 { return d.Svc.Config().MatchThreshold }
