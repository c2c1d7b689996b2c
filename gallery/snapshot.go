package gallery

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	faiss "github.com/DataIntelligenceCrew/go-faiss"
	bolt "go.etcd.io/bbolt"
)

// Snapshots: <Dir>/snapshots/<partition>.faiss is faiss::write_index output;
// <partition>.ids is
//
//	"VZGSNAP1" | u32 header length | header JSON | u64 n | n x u64 ids | u32 CRC-32C
//
// The header records the partition's epoch, the store sequence when the
// snapshot was taken, the spec, the size and CRC-32C of the .faiss file. The
// ids are every id in the FAISS index, so start-up adds the store's templates
// that the snapshot lacks and drops the ids the store no longer has (the
// records newer than the snapshot), whatever happened in between.
const (
	snapDir   = "snapshots"
	snapMagic = "VZGSNAP1"
)

type snapHeader struct {
	Partition string `json:"partition"`
	Epoch     uint64 `json:"epoch"`
	Seq       uint64 `json:"seq"`
	Spec      string `json:"spec"`
	Model     string `json:"model"`
	Dim       int    `json:"dim"`
	Ntotal    int    `json:"ntotal"`
	FaissSize int64  `json:"faiss_size"`
	FaissCRC  uint32 `json:"faiss_crc32c"`
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func snapPaths(dir, name string) (faissPath, idsPath string) {
	base := filepath.Join(dir, snapDir, "p-"+name)
	return base + ".faiss", base + ".ids"
}

func removeSnapshot(dir, name string) {
	f, i := snapPaths(dir, name)
	os.Remove(i)
	os.Remove(f)
}

func fileCRC(path string) (int64, uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	n, err := io.CopyBuffer(h, f, make([]byte, 1<<20))
	return n, h.Sum32(), err
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// snapshot writes p's index if it is not exact and changed since the last
// snapshot. The index is written under the read lock (searches go on).
func (g *Gallery) snapshot(p *part) error {
	p.snapMu.Lock()
	defer p.snapMu.Unlock()
	faissPath, idsPath := snapPaths(g.dir, p.name)
	p.ixmu.RLock()
	if p.ix == nil {
		p.ixmu.RUnlock()
		return nil
	}
	if p.ix.spec.scan() || len(p.ix.shards) != 1 {
		p.ixmu.RUnlock()
		removeSnapshot(g.dir, p.name)
		return nil
	}
	if p.version == p.snapVer {
		p.ixmu.RUnlock()
		return nil
	}
	ver := p.version
	h := snapHeader{Partition: p.name, Epoch: p.epoch, Spec: p.ix.spec.String(), Model: p.model, Dim: p.dim, Ntotal: p.ix.ntotal()}
	ids := make([]uint64, 0, len(p.owner)+len(p.tomb))
	for id := range p.owner {
		if _, ok := p.absent[id]; !ok {
			ids = append(ids, id)
		}
	}
	for id := range p.tomb {
		ids = append(ids, id)
	}
	_ = g.db.View(func(tx *bolt.Tx) error { h.Seq = getU64(tx.Bucket(bMeta), kSeq); return nil })
	err := faiss.WriteIndex(p.ix.shards[0], faissPath+".tmp")
	p.ixmu.RUnlock()
	if err != nil {
		return fmt.Errorf("gallery: snapshot of %q: %w", p.name, err)
	}
	if len(ids) != h.Ntotal {
		return fmt.Errorf("gallery: snapshot of %q: index holds %d vectors, catalog %d", p.name, h.Ntotal, len(ids))
	}
	if err := syncFile(faissPath + ".tmp"); err != nil {
		return err
	}
	if h.FaissSize, h.FaissCRC, err = fileCRC(faissPath + ".tmp"); err != nil {
		return err
	}
	hj, _ := json.Marshal(h)
	b := make([]byte, 0, len(snapMagic)+4+len(hj)+8+8*len(ids)+4)
	b = append(b, snapMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(hj)))
	b = append(b, hj...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(ids)))
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint64(b, id)
	}
	b = binary.LittleEndian.AppendUint32(b, crcOf(b))
	if err := writeFileSync(idsPath+".tmp", b); err != nil {
		return err
	}
	if err := os.Rename(faissPath+".tmp", faissPath); err != nil {
		return err
	}
	if err := os.Rename(idsPath+".tmp", idsPath); err != nil {
		return err
	}
	if err := syncDir(filepath.Join(g.dir, snapDir)); err != nil {
		return err
	}
	p.ixmu.Lock()
	p.snapVer = max(p.snapVer, ver)
	p.ixmu.Unlock()
	return nil
}

var errNoSnapshot = errors.New("no snapshot")

// loadSnapshot reads p's snapshot, checking it against its CRCs and p.
// It returns (nil, nil, nil) when there is none.
func (g *Gallery) loadSnapshot(p *part) (*fIndex, map[uint64]struct{}, error) {
	faissPath, idsPath := snapPaths(g.dir, p.name)
	b, err := os.ReadFile(idsPath)
	if os.IsNotExist(err) {
		if _, err := os.Stat(faissPath); err == nil {
			return nil, nil, fmt.Errorf("%s missing", idsPath)
		}
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	bad := func(why string) error { return fmt.Errorf("%s: %s", idsPath, why) }
	if len(b) < len(snapMagic)+4+8+4 || !bytes.Equal(b[:len(snapMagic)], []byte(snapMagic)) {
		return nil, nil, bad("bad header")
	}
	if crcOf(b[:len(b)-4]) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, nil, bad("checksum mismatch")
	}
	r := b[len(snapMagic):]
	hl := int(binary.LittleEndian.Uint32(r))
	if hl > len(r)-4-8-4 {
		return nil, nil, bad("bad header length")
	}
	var h snapHeader
	if err := json.Unmarshal(r[4:4+hl], &h); err != nil {
		return nil, nil, bad(err.Error())
	}
	r = r[4+hl:]
	n := binary.LittleEndian.Uint64(r)
	r = r[8 : len(r)-4]
	if uint64(len(r)) != 8*n || int(n) != h.Ntotal {
		return nil, nil, bad("id list length mismatch")
	}
	if h.Partition != p.name || h.Epoch != p.epoch || h.Model != p.model || h.Dim != p.dim {
		return nil, nil, bad("belongs to another partition or an older namesake")
	}
	if hs, err := ParseSpec(h.Spec); err != nil || hs.Factory != p.spec.Factory {
		return nil, nil, bad(fmt.Sprintf("stale: spec %q, partition now has %q", h.Spec, p.spec.String()))
	}
	size, crc, err := fileCRC(faissPath)
	if err != nil {
		return nil, nil, err
	}
	if size != h.FaissSize || crc != h.FaissCRC {
		return nil, nil, fmt.Errorf("%s: size or checksum mismatch (corrupt or truncated)", faissPath)
	}
	fi, err := faiss.ReadIndex(faissPath, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", faissPath, err)
	}
	ix := &fIndex{shards: []*faiss.IndexImpl{fi}, spec: p.spec, dim: p.dim, removable: !containsHNSW(p.spec.Factory)}
	if fi.D() != p.dim || int(fi.Ntotal()) != h.Ntotal || fi.MetricType() != faiss.MetricInnerProduct {
		ix.free()
		return nil, nil, fmt.Errorf("%s: index does not match its header", faissPath)
	}
	if err := ix.applyParams(); err != nil {
		ix.free()
		return nil, nil, err
	}
	in := make(map[uint64]struct{}, n)
	for i := uint64(0); i < n; i++ {
		in[binary.LittleEndian.Uint64(r[8*i:])] = struct{}{}
	}
	return ix, in, nil
}
