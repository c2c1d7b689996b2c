module vizor

go 1.26.0

require (
	github.com/DataIntelligenceCrew/go-faiss v0.2.0 // indirect
	github.com/beevik/etree v1.8.1 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/molecule-man/go-brrr v1.3.0 // indirect
	github.com/rs/zerolog v1.35.1 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasthttp v1.77.0 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	gocv.io/x/gocv v0.32.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
