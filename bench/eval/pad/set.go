package pad

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	_ "image/png" // sources include PNG files
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Item is one image of the PAD sets: a fetched file, a shared test photo,
// or a variant derived from one of them.
type Item struct {
	Set     string // "bona" or "attack"
	Kind    string // bona: web, portrait, selfie; attack: the attack type
	Source  string // repository (owner/name) or "shared"
	Path    string // path in the repository, or the shared file name
	Variant string // "original", "jpeg<q>", "grey", "tight"
	Part    string // "calibration" or "held-out"
	File    string // where the bytes are on disk
}

// Key names the item in reports.
func (it Item) Key() string {
	k := it.Source + ":" + it.Path
	if it.Variant != "original" {
		k += "#" + it.Variant
	}
	return k
}

// Parts of the split.
const (
	Calibration = "calibration"
	HeldOut     = "held-out"
)

// splitGroup is what keeps images together on one side of the split: every
// variant of a photo, and every photo of one identity folder (the selfie
// set holds a few people photographed many times: all of a person's photos
// on one side, so the held-out part tests people the threshold never saw).
func splitGroup(source, p string) string {
	dir := path.Dir(p)
	if b := path.Base(dir); len(b) >= 3 && strings.HasPrefix(b, "ID") && strings.Trim(b[2:], "0123456789") == "" {
		return source + ":" + dir
	}
	return source + ":" + p
}

// hash32 is a well-mixed hash of s (FNV's low bits correlate across
// prefixes, which made the sample and the split pick the same files).
func hash32(s string) uint32 {
	d := sha256.Sum256([]byte(s))
	return binary.BigEndian.Uint32(d[:4])
}

// PartOf is the deterministic split: half the groups calibrate, half are
// held out.
func PartOf(source, p string) string {
	if hash32("part:"+splitGroup(source, p))%2 == 0 {
		return Calibration
	}
	return HeldOut
}

// Load reads files.tsv (set, kind, repo, commit, path, sha256) and the
// fetched tree under dir (fetch.sh's layout), plus the shared photos when
// sharedDir is not empty. Files missing on disk are an error: a partial
// fetch would silently change the figures.
func Load(list, dir, sharedDir string) ([]Item, error) {
	f, err := os.Open(list)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var items []Item
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		cols := strings.Split(sc.Text(), "\t")
		if line == 1 || len(cols) == 0 || cols[0] == "" {
			continue
		}
		if len(cols) != 6 {
			return nil, fmt.Errorf("%s:%d: %d columns, want 6", list, line, len(cols))
		}
		set, kind, repo, p := cols[0], cols[1], cols[2], cols[4]
		file := filepath.Join(dir, set, strings.ReplaceAll(repo, "/", "+"), filepath.FromSlash(p))
		if _, err := os.Stat(file); err != nil {
			return nil, fmt.Errorf("%s: missing (run bench/datasets/pad/fetch.sh %s)", file, dir)
		}
		items = append(items, Item{Set: set, Kind: kind, Source: repo, Path: p, Variant: "original", Part: PartOf(repo, p), File: file})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if sharedDir != "" {
		names, err := filepath.Glob(filepath.Join(sharedDir, "*.jpg"))
		if err != nil {
			return nil, err
		}
		sort.Strings(names)
		for _, n := range names {
			b := filepath.Base(n)
			items = append(items, Item{Set: "bona", Kind: "portrait", Source: "shared", Path: b, Variant: "original", Part: PartOf("shared", b), File: n})
		}
	}
	return items, nil
}

// DeriveKind is which derived variant a bona fide original gets: one in
// three each is re-compressed as a web JPEG, turned greyscale, or cut to a
// tight crop (by a hash of its name, so the same files every run).
// Sources whose terms forbid modification (SOURCES.md) get none ("").
func DeriveKind(it Item) string {
	if noDerive[it.Source] {
		return ""
	}
	switch hash32("variant:"+it.Source+":"+it.Path) % 3 {
	case 0:
		return "jpeg"
	case 1:
		return "grey"
	}
	return "tight"
}

// noDerive lists the sources used only as published.
var noDerive = map[string]bool{"Akinori-F-Ebihara/SpecDiff_in_house_database_sample": true}

// WebQuality is the JPEG quality of an item's web re-compression: 50, 60 or
// 75, by a hash of its name.
func WebQuality(it Item) int {
	return []int{50, 60, 75}[hash32("quality:"+it.Source+":"+it.Path)%3]
}

func decode(b []byte) (image.Image, error) {
	img, _, err := image.Decode(bytes.NewReader(b))
	return img, err
}

func encode(img image.Image, q int) ([]byte, error) {
	var buf bytes.Buffer
	err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q})
	return buf.Bytes(), err
}

// Recompress re-encodes an image at JPEG quality q (Go's encoder is
// deterministic: the same bytes every run).
func Recompress(b []byte, q int) ([]byte, error) {
	img, err := decode(b)
	if err != nil {
		return nil, err
	}
	return encode(img, q)
}

// Greyscale re-encodes an image as a one-plane JPEG at quality 90.
func Greyscale(b []byte) ([]byte, error) {
	img, err := decode(b)
	if err != nil {
		return nil, err
	}
	g := image.NewGray(img.Bounds())
	draw.Draw(g, g.Bounds(), img, img.Bounds().Min, draw.Src)
	return encode(g, 90)
}

// TightCrop cuts the square of side 1.15 x the face box height about its
// centre (the face fills the frame, as in ID-photo crops and face
// thumbnails), scales it to side x side and encodes it at quality 90. ok is
// false when the square does not fit inside the image.
func TightCrop(b []byte, cx, cy, boxH float64, side int) (out []byte, ok bool, err error) {
	img, err := decode(b)
	if err != nil {
		return nil, false, err
	}
	s := 1.15 * boxH
	r := image.Rect(int(cx-s/2), int(cy-s/2), int(cx+s/2), int(cy+s/2)).Add(img.Bounds().Min)
	if !r.In(img.Bounds()) || r.Dx() < 16 {
		return nil, false, nil
	}
	dst := image.NewRGBA(image.Rect(0, 0, side, side))
	scaleInto(dst, img, r)
	out, err = encode(dst, 90)
	return out, err == nil, err
}

// scaleInto resamples src's rectangle r onto dst by area averaging
// (downscale) or nearest neighbour (upscale): enough for a test input.
func scaleInto(dst *image.RGBA, src image.Image, r image.Rectangle) {
	W, H := dst.Bounds().Dx(), dst.Bounds().Dy()
	fx, fy := float64(r.Dx())/float64(W), float64(r.Dy())/float64(H)
	for y := 0; y < H; y++ {
		y0, y1 := r.Min.Y+int(float64(y)*fy), r.Min.Y+int(float64(y+1)*fy)
		if y1 <= y0 {
			y1 = y0 + 1
		}
		for x := 0; x < W; x++ {
			x0, x1 := r.Min.X+int(float64(x)*fx), r.Min.X+int(float64(x+1)*fx)
			if x1 <= x0 {
				x1 = x0 + 1
			}
			var sr, sg, sb, n uint64
			for yy := y0; yy < y1; yy++ {
				for xx := x0; xx < x1; xx++ {
					cr, cg, cb, _ := src.At(xx, yy).RGBA()
					sr, sg, sb, n = sr+uint64(cr), sg+uint64(cg), sb+uint64(cb), n+1
				}
			}
			o := dst.PixOffset(x, y)
			dst.Pix[o], dst.Pix[o+1], dst.Pix[o+2], dst.Pix[o+3] = uint8(sr/n>>8), uint8(sg/n>>8), uint8(sb/n>>8), 255
		}
	}
}

// Sample keeps one item in n (all when n <= 1), chosen by a hash of its
// name: the same subset every run.
func Sample(items []Item, n int) []Item {
	if n <= 1 {
		return items
	}
	var out []Item
	for _, it := range items {
		if hash32("sample:"+it.Source+":"+it.Path)%uint32(n) == 0 {
			out = append(out, it)
		}
	}
	return out
}
