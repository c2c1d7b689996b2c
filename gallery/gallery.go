package gallery

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// pageSize of the bbolt file: 16 KiB packs seven 512-d templates (2 KiB
// records) per leaf where 4 KiB pages would waste half of every page.
const pageSize = 16384

// chunk is how many templates a rebuild reads (one read transaction) and
// adds to FAISS at a time.
const chunk = 8192

// Gallery is a durable, searchable store of face templates. All methods are
// safe for concurrent use.
type Gallery struct {
	cfg    Config
	dir    string
	dbPath string
	db     *bolt.DB

	life    sync.RWMutex // operations hold R, Close holds W
	closed  bool
	closing atomic.Bool

	mu    sync.RWMutex // guards parts
	parts map[string]*part
	notes []string
}

type logOp struct {
	id  uint64
	vec []float32 // nil: delete
}

// partition is the in-memory state of one partition. Lock order: mu, then
// ixmu. g.mu is never acquired while holding ixmu.
type part struct {
	name  string
	model string
	dim   int
	epoch uint64

	// mu orders mutations with the store: Enrol and DeleteTemplate hold it
	// shared (they touch distinct ids), whole-subject and partition
	// operations hold it exclusively so their view of the store is stable.
	mu   sync.RWMutex
	dead bool

	rebuildMu  sync.Mutex // one rebuild at a time
	snapMu     sync.Mutex // one snapshot write at a time
	rebuilding atomic.Bool

	// ixmu guards everything below; searches hold it shared.
	ixmu      sync.RWMutex
	ix        *fIndex
	spec      Spec // configured; ix.spec is the active one
	specTrain int  // templates the configured spec needs before training; 0: none
	owner     map[uint64]string
	subjects  map[string][]uint64
	tomb      map[uint64]struct{} // in ix but deleted
	// absent: in owner but not in ix; a rebuild found these deleted in the
	// store before their deletes were applied here (they are, shortly).
	absent  map[uint64]struct{}
	log     *[]logOp // changes to replay onto an index being rebuilt
	version uint64   // bumped on every index change
	snapVer uint64   // version captured by the last snapshot
}

// Open opens (or creates) the gallery in cfg.Dir. It loads every
// partition's FAISS index from its snapshot plus the store records newer than
// it, or rebuilds it from the store. A corrupt or truncated store is an error
// wrapping ErrCorrupt that names the file; a corrupt snapshot is dropped and
// rebuilt from the store (Stats().Notes says so).
func Open(cfg Config) (g *Gallery, err error) {
	if cfg.Dir == "" {
		return nil, errors.New("gallery: Config.Dir is empty")
	}
	if _, err := ParseSpec(cfg.DefaultIndexSpec); err != nil {
		return nil, err
	}
	for name, s := range cfg.IndexSpecs {
		if _, err := ParseSpec(s); err != nil {
			return nil, fmt.Errorf("partition %q: %w", name, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, snapDir), 0o700); err != nil {
		return nil, err
	}
	g = &Gallery{cfg: cfg, dir: cfg.Dir, dbPath: filepath.Join(cfg.Dir, storeFile), parts: map[string]*part{}}
	// A damaged mmap'd file can fault on access; turn that into an error.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = corruptf(g.dbPath, "fault while reading: %v", r)
			g.abort()
		}
	}()
	if err := g.openStore(); err != nil {
		g.abort()
		return nil, err
	}
	if err := g.loadPartitions(); err != nil {
		g.abort()
		return nil, err
	}
	return g, nil
}

func (g *Gallery) abort() {
	g.mu.Lock()
	for _, p := range g.parts {
		p.ix.free()
		p.ix = nil
	}
	g.parts = nil
	g.mu.Unlock()
	if g.db != nil {
		g.db.Close()
		g.db = nil
	}
}

func (g *Gallery) openStore() error {
	_, statErr := os.Stat(g.dbPath)
	isNew := os.IsNotExist(statErr)
	if err := checkBoltFile(g.dbPath); err != nil {
		return err
	}
	db, err := bolt.Open(g.dbPath, 0o600, &bolt.Options{
		Timeout:         2 * time.Second,
		PageSize:        pageSize,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: 1 << 30,
		NoSync:          g.cfg.NoSync,
	})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return fmt.Errorf("gallery: %s is locked by another process", g.dbPath)
		}
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
			return corruptf(g.dbPath, "%v", err)
		}
		return fmt.Errorf("gallery: open %s: %w", g.dbPath, err)
	}
	g.db = db
	db.MaxBatchDelay = g.cfg.MaxBatchDelay
	if db.MaxBatchDelay <= 0 {
		db.MaxBatchDelay = time.Millisecond
	}
	if isNew {
		if err := syncDir(g.dir); err != nil {
			return err
		}
	}
	return db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		if m == nil {
			if tx.Bucket(bParts) != nil {
				return corruptf(g.dbPath, "meta bucket missing")
			}
			var err error
			if m, err = tx.CreateBucket(bMeta); err != nil {
				return err
			}
			if err := m.Put(kFormat, []byte(storeFormat)); err != nil {
				return err
			}
		}
		if f := string(m.Get(kFormat)); f != storeFormat {
			return corruptf(g.dbPath, "store format %q, want %q", f, storeFormat)
		}
		for _, b := range [][]byte{bParts, bLoc} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
}

func (g *Gallery) loadPartitions() error {
	recs := map[string]*partRec{}
	err := g.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bParts).ForEach(func(k, v []byte) error {
			r, err := readPartRec(tx, string(k))
			if err != nil {
				return corruptf(g.dbPath, "%v", err)
			}
			recs[string(k)] = r
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(recs)) {
		p, err := g.loadPartition(name, recs[name])
		if err != nil {
			return err
		}
		g.parts[name] = p
	}
	return nil
}

func newPartition(name string, r *partRec) *part {
	return &part{
		name: name, model: r.Model, dim: r.Dim, epoch: r.Epoch,
		owner: map[uint64]string{}, subjects: map[string][]uint64{}, tomb: map[uint64]struct{}{},
		absent: map[uint64]struct{}{},
	}
}

func (g *Gallery) loadPartition(name string, r *partRec) (*part, error) {
	if !ValidPartitionName(name) || r.Dim <= 0 || r.Dim > maxDim || r.Model == "" {
		return nil, corruptf(g.dbPath, "bad partition record %q", name)
	}
	p := newPartition(name, r)
	sp, err := ParseSpec(r.Spec)
	if err != nil {
		return nil, corruptf(g.dbPath, "partition %q: %v", name, err)
	}
	p.spec = sp
	// The catalog: which templates exist and whose they are.
	err = g.db.View(func(tx *bolt.Tx) error {
		pb := tx.Bucket(partBucketName(name))
		if pb == nil || pb.Bucket(bO) == nil || pb.Bucket(bT) == nil || pb.Bucket(bS) == nil {
			return corruptf(g.dbPath, "partition %q: buckets missing", name)
		}
		return pb.Bucket(bO).ForEach(func(k, v []byte) error {
			if len(k) != 8 || !ValidSubjectName(string(v)) {
				return corruptf(g.dbPath, "partition %q: bad owner record", name)
			}
			id, s := keyID(k), string(v)
			p.owner[id] = s
			p.subjects[s] = append(p.subjects[s], id)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	ids := slices.Sorted(maps.Keys(p.owner))
	if ix, inSnap, err := g.loadSnapshot(p); err == nil && ix != nil {
		// Replay the store onto the snapshot: add what is newer, drop what
		// was deleted since.
		if err := g.verifyRecords(p); err != nil {
			ix.free()
			return nil, err
		}
		var add []uint64
		for _, id := range ids {
			if _, ok := inSnap[id]; !ok {
				add = append(add, id)
			}
		}
		if err := g.addFromStoreStrict(p, ix, add, nil, true); err != nil {
			ix.free()
			return nil, err
		}
		for id := range inSnap {
			if _, ok := p.owner[id]; !ok {
				p.tomb[id] = struct{}{}
			}
		}
		p.ix = ix
		p.compact()
		p.version = 1
		if len(add) == 0 && len(p.tomb) == 0 {
			p.snapVer = 1
		}
		p.specTrain = 0
		return p, nil
	} else if err != nil {
		g.notes = append(g.notes, fmt.Sprintf("partition %q: snapshot unusable, rebuilt from the store: %v", name, err))
		removeSnapshot(g.dir, name)
	}
	var added []uint64
	ix, trainMin, err := g.buildIndex(p, p.spec, ids, &added)
	if err != nil {
		return nil, err
	}
	if len(added) != len(ids) {
		ix.free()
		return nil, corruptf(g.dbPath, "partition %q: %d templates listed in the catalog are missing", name, len(ids)-len(added))
	}
	p.ix, p.specTrain = ix, trainMin
	p.version = 1
	return p, nil
}

// verifyRecords checks every template record of p against its CRC and the
// catalog (start-up, when the vectors come from a snapshot).
func (g *Gallery) verifyRecords(p *part) error {
	return g.db.View(func(tx *bolt.Tx) error {
		n := 0
		err := tx.Bucket(partBucketName(p.name)).Bucket(bT).ForEach(func(k, v []byte) error {
			if len(k) != 8 || len(v) < 5 || crcOf(v[:len(v)-4]) != binary.BigEndian.Uint32(v[len(v)-4:]) {
				return corruptf(g.dbPath, "partition %q: template record %x fails its checksum", p.name, k)
			}
			if _, ok := p.owner[keyID(k)]; !ok {
				return corruptf(g.dbPath, "partition %q: template %d has no owner record", p.name, keyID(k))
			}
			n++
			return nil
		})
		if err == nil && n != len(p.owner) {
			err = corruptf(g.dbPath, "partition %q: %d template records for %d catalog entries", p.name, n, len(p.owner))
		}
		return err
	})
}

// buildIndex builds an index for spec holding ids, read from the store. A
// spec that needs training gets a Flat index while the partition holds fewer
// than the templates it needs (returned as trainMin).
func (g *Gallery) buildIndex(p *part, sp Spec, ids []uint64, added *[]uint64) (*fIndex, int, error) {
	ix, err := newIndex(p.dim, sp)
	if err != nil {
		return nil, 0, err
	}
	trainMin := 0
	if !ix.isTrained() {
		trainMin = sp.trainMin(false)
		if len(ids) < trainMin {
			ix.free()
			flat, _ := ParseSpec("Flat")
			if ix, err = newIndex(p.dim, flat); err != nil {
				return nil, 0, err
			}
		} else {
			n := min(len(ids), max(trainMin, 100000))
			sample := make([]uint64, 0, n)
			for i := 0; i < n; i++ {
				sample = append(sample, ids[int(int64(i)*int64(len(ids))/int64(n))])
			}
			vecs := make([]float32, 0, n*p.dim)
			if err := g.readVectors(p.name, sample, func(_ uint64, v []float32) { vecs = append(vecs, v...) }); err != nil {
				ix.free()
				return nil, 0, err
			}
			if err := ix.train(vecs); err != nil {
				ix.free()
				return nil, 0, fmt.Errorf("gallery: training %q on %d templates: %w", sp.Factory, n, err)
			}
			trainMin = 0
		}
	}
	if err := g.addFromStore(p, ix, ids, added); err != nil {
		ix.free()
		return nil, 0, err
	}
	return ix, trainMin, nil
}

// addFromStore adds the given templates (those still in the store) to ix.
func (g *Gallery) addFromStore(p *part, ix *fIndex, ids []uint64, added *[]uint64) error {
	return g.addFromStoreStrict(p, ix, ids, added, false)
}

// addFromStoreStrict is addFromStore; with strict (start-up), a template the
// catalog lists but the store lacks is corruption, not a concurrent delete.
func (g *Gallery) addFromStoreStrict(p *part, ix *fIndex, ids []uint64, added *[]uint64, strict bool) error {
	vecs := make([]float32, 0, min(len(ids), chunk)*p.dim)
	xids := make([]int64, 0, min(len(ids), chunk))
	for i := 0; i < len(ids); i += chunk {
		if g.closing.Load() {
			return ErrClosed
		}
		vecs, xids = vecs[:0], xids[:0]
		err := g.readVectors(p.name, ids[i:min(i+chunk, len(ids))], func(id uint64, v []float32) {
			if len(v) != p.dim {
				return
			}
			vecs = append(vecs, v...)
			xids = append(xids, int64(id))
		})
		if err != nil {
			return err
		}
		if strict && len(xids) != min(i+chunk, len(ids))-i {
			return corruptf(g.dbPath, "partition %q: templates listed in the catalog are missing", p.name)
		}
		if len(vecs)/p.dim != len(xids) {
			return corruptf(g.dbPath, "partition %q: template with wrong dimension", p.name)
		}
		if err := ix.add(vecs, xids); err != nil {
			return fmt.Errorf("gallery: adding to %q index: %w", ix.spec.Factory, err)
		}
		if added != nil {
			for _, id := range xids {
				*added = append(*added, uint64(id))
			}
		}
	}
	return nil
}

// readVectors calls fn for each id still in the store (in one read
// transaction); the vector passed is reused between calls.
func (g *Gallery) readVectors(part string, ids []uint64, fn func(id uint64, v []float32)) error {
	var buf []float32
	return g.db.View(func(tx *bolt.Tx) error {
		pb := tx.Bucket(partBucketName(part))
		if pb == nil {
			return fmt.Errorf("%w: %q", ErrPartitionNotFound, part)
		}
		t := pb.Bucket(bT)
		for _, id := range ids {
			v := t.Get(idKey(id))
			if v == nil {
				continue
			}
			var err error
			if buf, err = decodeVec(v, buf[:0]); err != nil {
				return corruptf(g.dbPath, "partition %q template %d: %v", part, id, err)
			}
			fn(id, buf)
		}
		return nil
	})
}

func (g *Gallery) enter() bool {
	g.life.RLock()
	if g.closed {
		g.life.RUnlock()
		return false
	}
	return true
}

func (g *Gallery) leave() { g.life.RUnlock() }

func (g *Gallery) lookup(name string) (*part, error) {
	g.mu.RLock()
	p := g.parts[name]
	g.mu.RUnlock()
	if p == nil {
		return nil, fmt.Errorf("%w: %q", ErrPartitionNotFound, name)
	}
	return p, nil
}

func (p *part) check(t Template) error {
	if t.Model != p.model {
		return fmt.Errorf("%w: partition %q holds model %q, template is from %q", ErrModelMismatch, p.name, p.model, t.Model)
	}
	if len(t.Vector) != p.dim {
		return fmt.Errorf("%w: partition %q holds %d-d templates, got %d-d", ErrDimMismatch, p.name, p.dim, len(t.Vector))
	}
	return nil
}

// partitionFor returns the partition, creating it (durably) for t's model.
func (g *Gallery) partitionFor(name string, t Template) (*part, error) {
	g.mu.RLock()
	p := g.parts[name]
	g.mu.RUnlock()
	if p != nil {
		return p, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if p := g.parts[name]; p != nil {
		return p, nil
	}
	specStr := g.cfg.DefaultIndexSpec
	if s, ok := g.cfg.IndexSpecs[name]; ok {
		specStr = s
	}
	sp, err := ParseSpec(specStr)
	if err != nil {
		return nil, err
	}
	r := &partRec{Model: t.Model, Dim: len(t.Vector), Spec: sp.String(), Created: time.Now().UTC()}
	p = newPartition(name, r)
	p.spec = sp
	ix, trainMin, err := g.buildIndex(p, sp, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("partition %q: %w", name, err)
	}
	err = g.db.Update(func(tx *bolt.Tx) error {
		seq, err := bumpSeq(tx)
		if err != nil {
			return err
		}
		r.Epoch = seq
		pb, err := tx.CreateBucket(partBucketName(name))
		if err != nil {
			return err
		}
		for _, b := range [][]byte{bT, bO, bS, bI} {
			if _, err := pb.CreateBucket(b); err != nil {
				return err
			}
		}
		return writePartRec(tx, name, r)
	})
	if err != nil {
		ix.free()
		return nil, err
	}
	p.epoch = r.Epoch
	p.ix, p.specTrain = ix, trainMin
	g.parts[name] = p
	return p, nil
}

// Enrol adds a template to subject in partition, creating both on first use
// (a new partition takes the template's model and dimension). When it
// returns, the template is durable and searchable.
func (g *Gallery) Enrol(partition, subject string, t Template, opts EnrolOptions) (TemplateInfo, error) {
	if err := checkPartition(partition); err != nil {
		return TemplateInfo{}, err
	}
	if err := checkSubject(subject); err != nil {
		return TemplateInfo{}, err
	}
	if err := checkTemplate(t); err != nil {
		return TemplateInfo{}, err
	}
	if err := checkMeta(opts.Meta); err != nil {
		return TemplateInfo{}, err
	}
	if !g.enter() {
		return TemplateInfo{}, ErrClosed
	}
	defer g.leave()
	vec := slices.Clone(t.Vector)
	rec := &tmplRec{Created: time.Now().UTC().Truncate(time.Microsecond), Model: t.Model, Vector: vec, Meta: maps.Clone(opts.Meta)}
	img := opts.Image
	if !g.cfg.KeepImages && !opts.KeepImage {
		img = nil
	}
	rec.HasImage = len(img) > 0
	enc := encodeTmpl(rec)
	for {
		p, err := g.partitionFor(partition, t)
		if err != nil {
			return TemplateInfo{}, err
		}
		p.mu.RLock()
		if p.dead {
			p.mu.RUnlock()
			continue
		}
		if err := p.check(t); err != nil {
			p.mu.RUnlock()
			return TemplateInfo{}, err
		}
		var id uint64
		err = g.db.Batch(func(tx *bolt.Tx) error {
			pb := tx.Bucket(partBucketName(partition))
			if pb == nil {
				return fmt.Errorf("%w: %q", ErrPartitionNotFound, partition)
			}
			m := tx.Bucket(bMeta)
			id = getU64(m, kNextID) + 1
			if err := putU64(m, kNextID, id); err != nil {
				return err
			}
			if _, err := bumpSeq(tx); err != nil {
				return err
			}
			k := idKey(id)
			tb, ob, lb := pb.Bucket(bT), pb.Bucket(bO), tx.Bucket(bLoc)
			tb.FillPercent, ob.FillPercent, lb.FillPercent = 0.95, 0.95, 0.95
			if err := tb.Put(k, enc); err != nil {
				return err
			}
			if err := ob.Put(k, []byte(subject)); err != nil {
				return err
			}
			if err := pb.Bucket(bS).Put(subjKey(subject, id), nil); err != nil {
				return err
			}
			if err := lb.Put(k, []byte(partition)); err != nil {
				return err
			}
			if len(img) > 0 {
				ib := pb.Bucket(bI)
				ib.FillPercent = 0.95
				return ib.Put(k, appendCRC(img))
			}
			return nil
		})
		if err != nil {
			p.mu.RUnlock()
			return TemplateInfo{}, err
		}
		err = p.applyAdd(g, id, subject, vec)
		p.mu.RUnlock()
		info := TemplateInfo{ID: id, Partition: partition, Subject: subject, Model: t.Model, Dim: len(vec),
			Created: rec.Created, Meta: rec.Meta, HasImage: rec.HasImage}
		return info, err
	}
}

func (p *part) applyAdd(g *Gallery, id uint64, subject string, vec []float32) error {
	p.ixmu.Lock()
	defer p.ixmu.Unlock()
	p.owner[id] = subject
	p.subjects[subject] = append(p.subjects[subject], id)
	p.version++
	if p.log != nil {
		*p.log = append(*p.log, logOp{id: id, vec: vec})
	}
	if err := p.ix.add(vec, []int64{int64(id)}); err != nil {
		// The template is durable; the index is rebuilt from the store at the
		// next start or SetIndexSpec.
		return fmt.Errorf("gallery: template %d stored but not indexed: %w", id, err)
	}
	if p.specTrain > 0 && len(p.owner) >= p.specTrain && !p.rebuilding.Load() {
		p.specTrain = 0
		g.rebuildAsync(p)
	}
	return nil
}

// applyDelete removes deleted templates from the catalog and the index
// (tombstoned, then compacted in batches). Called with ixmu held.
func (p *part) applyDelete(g *Gallery, ids []uint64) {
	for _, id := range ids {
		s, ok := p.owner[id]
		if !ok {
			continue
		}
		delete(p.owner, id)
		l := p.subjects[s]
		if i := slices.Index(l, id); i >= 0 {
			l = slices.Delete(l, i, i+1)
		}
		if len(l) == 0 {
			delete(p.subjects, s)
		} else {
			p.subjects[s] = l
		}
		if _, ok := p.absent[id]; ok {
			delete(p.absent, id)
		} else {
			p.tomb[id] = struct{}{}
		}
		if p.log != nil {
			*p.log = append(*p.log, logOp{id: id})
		}
	}
	p.version++
	p.compact()
	if !p.ix.removable && len(p.tomb) >= 1000 && len(p.tomb)*8 >= p.ix.ntotal() && !p.rebuilding.Load() {
		g.rebuildAsync(p)
	}
}

// compact physically removes tombstoned vectors once they are worth an O(n)
// pass (immediately for small partitions). Called with ixmu held.
func (p *part) compact() {
	n := p.ix.ntotal()
	if !p.ix.removable || len(p.tomb) == 0 || (n > 65536 && len(p.tomb)*64 < n) {
		return
	}
	ids := make([]int64, 0, len(p.tomb))
	for id := range p.tomb {
		ids = append(ids, int64(id))
	}
	if err := p.ix.remove(ids); err == nil {
		clear(p.tomb)
	}
}

// DeleteTemplate deletes one template. Deleting a subject's last template
// deletes the subject.
func (g *Gallery) DeleteTemplate(partition string, id uint64) error {
	return g.inPartition(partition, false, func(p *part) error {
		return g.deleteTemplate(p, partition, id)
	})
}

func (g *Gallery) deleteTemplate(p *part, partition string, id uint64) error {
	p.ixmu.RLock()
	subject, ok := p.owner[id]
	p.ixmu.RUnlock()
	if !ok {
		return fmt.Errorf("%w: %d in partition %q", ErrTemplateNotFound, id, partition)
	}
	err := g.db.Batch(func(tx *bolt.Tx) error {
		pb := tx.Bucket(partBucketName(partition))
		if pb == nil {
			return fmt.Errorf("%w: %q", ErrPartitionNotFound, partition)
		}
		if pb.Bucket(bT).Get(idKey(id)) == nil {
			return fmt.Errorf("%w: %d in partition %q", ErrTemplateNotFound, id, partition)
		}
		if _, err := bumpSeq(tx); err != nil {
			return err
		}
		return deleteTemplateTx(tx, pb, id, subject)
	})
	if err != nil {
		return err
	}
	p.ixmu.Lock()
	p.applyDelete(g, []uint64{id})
	p.ixmu.Unlock()
	return nil
}

func deleteTemplateTx(tx *bolt.Tx, pb *bolt.Bucket, id uint64, subject string) error {
	k := idKey(id)
	for _, b := range [][]byte{bT, bO, bI} {
		if err := pb.Bucket(b).Delete(k); err != nil {
			return err
		}
	}
	if err := pb.Bucket(bS).Delete(subjKey(subject, id)); err != nil {
		return err
	}
	return tx.Bucket(bLoc).Delete(k)
}

// exclusive runs fn holding p.mu exclusively, failing if p was deleted.
func (g *Gallery) exclusive(partition string, fn func(p *part) error) error {
	return g.inPartition(partition, true, fn)
}

// inPartition runs fn on a live partition holding p.mu: exclusively for
// subject and partition operations, shared for single-template mutations
// (which then group-commit with enrolments).
func (g *Gallery) inPartition(partition string, exclusive bool, fn func(p *part) error) error {
	if !g.enter() {
		return ErrClosed
	}
	defer g.leave()
	p, err := g.lookup(partition)
	if err != nil {
		return err
	}
	if exclusive {
		p.mu.Lock()
		defer p.mu.Unlock()
	} else {
		p.mu.RLock()
		defer p.mu.RUnlock()
	}
	if p.dead {
		return fmt.Errorf("%w: %q", ErrPartitionNotFound, partition)
	}
	return fn(p)
}

// DeleteSubject deletes a subject and all its templates, returning how many.
func (g *Gallery) DeleteSubject(partition, subject string) (int, error) {
	n := 0
	err := g.exclusive(partition, func(p *part) error {
		p.ixmu.RLock()
		ids := slices.Clone(p.subjects[subject])
		p.ixmu.RUnlock()
		if len(ids) == 0 {
			return fmt.Errorf("%w: %q in partition %q", ErrSubjectNotFound, subject, partition)
		}
		err := g.db.Batch(func(tx *bolt.Tx) error {
			pb := tx.Bucket(partBucketName(partition))
			if _, err := bumpSeq(tx); err != nil {
				return err
			}
			for _, id := range ids {
				if err := deleteTemplateTx(tx, pb, id, subject); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		p.ixmu.Lock()
		p.applyDelete(g, ids)
		p.ixmu.Unlock()
		n = len(ids)
		return nil
	})
	return n, err
}

// RenameSubject renames subject from to to. If to exists, merge moves
// from's templates into it; without merge that is ErrSubjectExists.
func (g *Gallery) RenameSubject(partition, from, to string, merge bool) error {
	if err := checkSubject(to); err != nil {
		return err
	}
	return g.exclusive(partition, func(p *part) error {
		p.ixmu.RLock()
		ids := slices.Clone(p.subjects[from])
		_, toExists := p.subjects[to]
		p.ixmu.RUnlock()
		if len(ids) == 0 {
			return fmt.Errorf("%w: %q in partition %q", ErrSubjectNotFound, from, partition)
		}
		if from == to {
			return nil
		}
		if toExists && !merge {
			return fmt.Errorf("%w: %q in partition %q", ErrSubjectExists, to, partition)
		}
		err := g.db.Batch(func(tx *bolt.Tx) error {
			pb := tx.Bucket(partBucketName(partition))
			if _, err := bumpSeq(tx); err != nil {
				return err
			}
			ob, sb := pb.Bucket(bO), pb.Bucket(bS)
			for _, id := range ids {
				if err := ob.Put(idKey(id), []byte(to)); err != nil {
					return err
				}
				if err := sb.Delete(subjKey(from, id)); err != nil {
					return err
				}
				if err := sb.Put(subjKey(to, id), nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		p.ixmu.Lock()
		for _, id := range ids {
			p.owner[id] = to
		}
		p.subjects[to] = append(p.subjects[to], ids...)
		delete(p.subjects, from)
		p.ixmu.Unlock()
		return nil
	})
}

// DeletePartition deletes a partition with all its subjects, templates,
// images and snapshot.
func (g *Gallery) DeletePartition(name string) error {
	return g.exclusive(name, func(p *part) error {
		p.ixmu.RLock()
		ids := slices.Collect(maps.Keys(p.owner))
		p.ixmu.RUnlock()
		err := g.db.Update(func(tx *bolt.Tx) error {
			if _, err := bumpSeq(tx); err != nil {
				return err
			}
			lb := tx.Bucket(bLoc)
			for _, id := range ids {
				if err := lb.Delete(idKey(id)); err != nil {
					return err
				}
			}
			if err := tx.DeleteBucket(partBucketName(name)); err != nil {
				return err
			}
			return tx.Bucket(bParts).Delete([]byte(name))
		})
		if err != nil {
			return err
		}
		p.dead = true
		g.mu.Lock()
		delete(g.parts, name)
		g.mu.Unlock()
		p.ixmu.Lock()
		p.ix.free()
		p.ix = nil
		p.owner, p.subjects, p.tomb, p.absent = map[uint64]string{}, map[string][]uint64{}, map[uint64]struct{}{}, map[uint64]struct{}{}
		p.ixmu.Unlock()
		removeSnapshot(g.dir, name)
		return nil
	})
}

// Search returns up to topK distinct subjects of partition, best first,
// scored by their best template, with score >= minScore.
func (g *Gallery) Search(partition string, probe Template, topK int, minScore float32) ([]Candidate, error) {
	if topK <= 0 {
		return nil, fmt.Errorf("gallery: topK %d must be positive", topK)
	}
	if !g.enter() {
		return nil, ErrClosed
	}
	defer g.leave()
	p, err := g.lookup(partition)
	if err != nil {
		return nil, err
	}
	if err := p.check(probe); err != nil {
		return nil, err
	}
	p.ixmu.RLock()
	defer p.ixmu.RUnlock()
	if p.ix == nil {
		return nil, fmt.Errorf("%w: %q", ErrPartitionNotFound, partition)
	}
	n := p.ix.ntotal()
	if n == 0 {
		return []Candidate{}, nil
	}
	// Ask for more neighbours than subjects wanted (a subject may own
	// several templates; deleted ones may linger), widening as needed.
	k := min(n, topK*4+8)
	for {
		dist, labels, err := p.ix.search(probe.Vector, k)
		if err != nil {
			return nil, fmt.Errorf("gallery: search: %w", err)
		}
		if p.ix.spec.rerank() {
			if dist, labels, err = g.rescore(partition, probe.Vector, dist, labels); err != nil {
				return nil, err
			}
		}
		out := make([]Candidate, 0, topK)
		seen := make(map[string]struct{}, topK)
		done := false
		for i, l := range labels {
			if l < 0 || dist[i] < minScore {
				done = true
				break
			}
			s, ok := p.owner[uint64(l)]
			if !ok {
				continue
			}
			if _, dup := seen[s]; dup {
				continue
			}
			seen[s] = struct{}{}
			out = append(out, Candidate{Subject: s, Score: dist[i], TemplateID: uint64(l)})
			if len(out) == topK {
				done = true
				break
			}
		}
		if done || k >= n {
			return out, nil
		}
		k = min(n, k*4)
	}
}

// rescore replaces approximate scores by exact inner products with the
// stored vectors and re-sorts (Spec "rerank=1").
func (g *Gallery) rescore(part string, probe []float32, dist []float32, labels []int64) ([]float32, []int64, error) {
	ids := make([]uint64, 0, len(labels))
	for _, l := range labels {
		if l >= 0 {
			ids = append(ids, uint64(l))
		}
	}
	type hit struct {
		d float32
		l int64
	}
	hits := make([]hit, 0, len(ids))
	err := g.readVectors(part, ids, func(id uint64, v []float32) {
		var s float32
		for i, x := range v {
			s += x * probe[i]
		}
		hits = append(hits, hit{s, int64(id)})
	})
	if err != nil {
		return nil, nil, err
	}
	slices.SortStableFunc(hits, func(a, b hit) int {
		switch {
		case a.d > b.d:
			return -1
		case a.d < b.d:
			return 1
		}
		return 0
	})
	dist, labels = dist[:0], labels[:0]
	for _, h := range hits {
		dist, labels = append(dist, h.d), append(labels, h.l)
	}
	return dist, labels, nil
}

// Verify compares probe with every template of subject (1:1) and returns the
// best score.
func (g *Gallery) Verify(partition, subject string, probe Template) (Candidate, error) {
	if !g.enter() {
		return Candidate{}, ErrClosed
	}
	defer g.leave()
	p, err := g.lookup(partition)
	if err != nil {
		return Candidate{}, err
	}
	if err := p.check(probe); err != nil {
		return Candidate{}, err
	}
	p.ixmu.RLock()
	ids := slices.Clone(p.subjects[subject])
	p.ixmu.RUnlock()
	best := Candidate{Subject: subject, Score: -2}
	err = g.readVectors(partition, ids, func(id uint64, v []float32) {
		var s float32
		for i, x := range v {
			s += x * probe.Vector[i]
		}
		if s > best.Score {
			best.Score, best.TemplateID = s, id
		}
	})
	if err != nil {
		return Candidate{}, err
	}
	if best.TemplateID == 0 {
		return Candidate{}, fmt.Errorf("%w: %q in partition %q", ErrSubjectNotFound, subject, partition)
	}
	return best, nil
}

// Partitions lists partition names, sorted.
func (g *Gallery) Partitions() []string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return slices.Sorted(maps.Keys(g.parts))
}

// Subjects lists a partition's subjects, sorted bytewise.
func (g *Gallery) Subjects(partition string) (subjects []string, err error) {
	err = g.reading(partition, func(p *part) {
		subjects = slices.Sorted(maps.Keys(p.subjects))
	})
	return subjects, err
}

// HasSubject reports whether subject has at least one template in partition.
func (g *Gallery) HasSubject(partition, subject string) (has bool, err error) {
	err = g.reading(partition, func(p *part) {
		has = len(p.subjects[subject]) > 0
	})
	return has, err
}

// reading runs fn on partition's in-memory state (index, subject map)
// holding its read lock.
func (g *Gallery) reading(partition string, fn func(p *part)) error {
	if !g.enter() {
		return ErrClosed
	}
	defer g.leave()
	p, err := g.lookup(partition)
	if err != nil {
		return err
	}
	p.ixmu.RLock()
	defer p.ixmu.RUnlock()
	fn(p)
	return nil
}

// Templates lists the templates of subject in partition in id order, or of
// the whole partition when subject is "".
func (g *Gallery) Templates(partition, subject string) ([]TemplateInfo, error) {
	if !g.enter() {
		return nil, ErrClosed
	}
	defer g.leave()
	if _, err := g.lookup(partition); err != nil {
		return nil, err
	}
	var out []TemplateInfo
	err := g.db.View(func(tx *bolt.Tx) error {
		pb := tx.Bucket(partBucketName(partition))
		if pb == nil {
			return fmt.Errorf("%w: %q", ErrPartitionNotFound, partition)
		}
		tb := pb.Bucket(bT)
		info := func(id uint64, s string) error {
			v := tb.Get(idKey(id))
			if v == nil {
				return corruptf(g.dbPath, "template %d listed but missing", id)
			}
			r, err := decodeTmpl(v, nil)
			if err != nil {
				return corruptf(g.dbPath, "template %d: %v", id, err)
			}
			out = append(out, r.info(id, partition, s))
			return nil
		}
		if subject == "" {
			return pb.Bucket(bO).ForEach(func(k, v []byte) error { return info(keyID(k), string(v)) })
		}
		prefix := append([]byte(subject), 0)
		c := pb.Bucket(bS).Cursor()
		for k, _ := c.Seek(prefix); k != nil && hasPrefix(k, prefix) && len(k) == len(prefix)+8; k, _ = c.Next() {
			if err := info(keyID(k[len(prefix):]), subject); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if subject != "" && len(out) == 0 {
		return nil, fmt.Errorf("%w: %q in partition %q", ErrSubjectNotFound, subject, partition)
	}
	slices.SortFunc(out, func(a, b TemplateInfo) int { return cmpU64(a.ID, b.ID) })
	return out, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (r *tmplRec) info(id uint64, partition, subject string) TemplateInfo {
	return TemplateInfo{ID: id, Partition: partition, Subject: subject, Model: r.Model, Dim: len(r.Vector),
		Created: r.Created, Meta: r.Meta, HasImage: r.HasImage}
}

// Template returns a template's info and vector by id.
func (g *Gallery) Template(id uint64) (TemplateInfo, Template, error) {
	info, t, _, err := g.get(id, false)
	return info, t, err
}

// Image returns the image stored with a template (Config.KeepImages) and the
// template's info. ErrImageNotFound if the template has no image.
func (g *Gallery) Image(id uint64) ([]byte, TemplateInfo, error) {
	info, _, img, err := g.get(id, true)
	if err == nil && img == nil {
		err = fmt.Errorf("%w: %d", ErrImageNotFound, id)
	}
	return img, info, err
}

func (g *Gallery) get(id uint64, withImage bool) (info TemplateInfo, t Template, img []byte, err error) {
	if !g.enter() {
		return info, t, nil, ErrClosed
	}
	defer g.leave()
	err = g.db.View(func(tx *bolt.Tx) error {
		k := idKey(id)
		part := tx.Bucket(bLoc).Get(k)
		if part == nil {
			return fmt.Errorf("%w: %d", ErrTemplateNotFound, id)
		}
		pb := tx.Bucket(partBucketName(string(part)))
		if pb == nil {
			return corruptf(g.dbPath, "template %d in missing partition %q", id, part)
		}
		v, s := pb.Bucket(bT).Get(k), pb.Bucket(bO).Get(k)
		if v == nil || s == nil {
			return fmt.Errorf("%w: %d", ErrTemplateNotFound, id)
		}
		r, err := decodeTmpl(v, nil)
		if err != nil {
			return corruptf(g.dbPath, "template %d: %v", id, err)
		}
		info, t = r.info(id, string(part), string(s)), Template{Model: r.Model, Vector: r.Vector}
		if withImage && r.HasImage {
			b := pb.Bucket(bI).Get(k)
			if b, err = checkCRC(b); err != nil {
				return corruptf(g.dbPath, "image of template %d: %v", id, err)
			}
			img = slices.Clone(b)
		}
		return nil
	})
	return info, t, img, err
}

// Stats returns counts per partition and in total.
func (g *Gallery) Stats() Stats {
	g.mu.RLock()
	parts := slices.Collect(maps.Values(g.parts))
	st := Stats{Notes: slices.Clone(g.notes)}
	g.mu.RUnlock()
	for _, p := range parts {
		p.ixmu.RLock()
		ps := PartitionStats{Name: p.name, Model: p.model, Dim: p.dim, Subjects: len(p.subjects),
			Templates: len(p.owner), IndexSpec: p.spec.String(), Rebuilding: p.rebuilding.Load()}
		if p.ix != nil {
			ps.ActiveIndex, ps.Indexed = p.ix.spec.String(), p.ix.ntotal()
		}
		p.ixmu.RUnlock()
		if ps.ActiveIndex == "" {
			continue
		}
		st.PerPartition = append(st.PerPartition, ps)
		st.Subjects += ps.Subjects
		st.Templates += ps.Templates
	}
	slices.SortFunc(st.PerPartition, func(a, b PartitionStats) int {
		if a.Name < b.Name {
			return -1
		} else if a.Name > b.Name {
			return 1
		}
		return 0
	})
	st.Partitions = len(st.PerPartition)
	return st
}

// SetIndexSpec changes a partition's index spec (or, with the same spec,
// re-trains and rebuilds it). The new index is built aside from the store
// while searches and enrolments go on; changes made meanwhile are replayed
// onto it before it replaces the old one. The spec is stored: it survives a
// restart. A change of search parameters only (same factory string, e.g.
// efSearch) applies at once without a rebuild. A spec that needs training waits, on a Flat index, until the
// partition has enough templates, then builds in the background.
func (g *Gallery) SetIndexSpec(partition, spec string) error {
	sp, err := ParseSpec(spec)
	if err != nil {
		return err
	}
	if !g.enter() {
		return ErrClosed
	}
	defer g.leave()
	p, err := g.lookup(partition)
	if err != nil {
		return err
	}
	probe, err := newIndex(p.dim, sp) // fail fast on a spec FAISS rejects
	if err != nil {
		return err
	}
	probe.free()
	err = g.db.Update(func(tx *bolt.Tx) error {
		r, err := readPartRec(tx, partition)
		if err != nil {
			return err
		}
		if r == nil || r.Epoch != p.epoch {
			return fmt.Errorf("%w: %q", ErrPartitionNotFound, partition)
		}
		r.Spec = sp.String()
		return writePartRec(tx, partition, r)
	})
	if err != nil {
		return err
	}
	p.ixmu.Lock()
	p.spec = sp
	if p.ix != nil && p.ix.spec.Factory == sp.Factory && p.specTrain == 0 {
		// Only search parameters changed: apply them in place.
		p.ix.spec = sp
		err = p.ix.applyParams()
		p.ixmu.Unlock()
		return err
	}
	p.ixmu.Unlock()
	return g.rebuild(p)
}

func (g *Gallery) rebuildAsync(p *part) {
	p.rebuilding.Store(true) // keeps applyAdd/applyDelete from starting more
	go func() {
		if !g.enter() {
			p.rebuilding.Store(false)
			return
		}
		defer g.leave()
		_ = g.rebuild(p)
	}()
}

// rebuild builds p's configured index aside and swaps it in.
func (g *Gallery) rebuild(p *part) error {
	p.rebuildMu.Lock()
	defer p.rebuildMu.Unlock()
	p.rebuilding.Store(true)
	defer p.rebuilding.Store(false)

	p.ixmu.Lock()
	if p.ix == nil {
		p.ixmu.Unlock()
		return fmt.Errorf("%w: %q", ErrPartitionNotFound, p.name)
	}
	sp := p.spec
	ids := slices.Sorted(maps.Keys(p.owner))
	var log []logOp
	p.log = &log
	p.ixmu.Unlock()

	var added []uint64
	nix, trainMin, err := g.buildIndex(p, sp, ids, &added)

	// Work out of the lock what the new index holds, so that the swap
	// itself only replays the (short) log.
	in := make(map[uint64]struct{}, len(added))
	for _, id := range added {
		in[id] = struct{}{}
	}
	var missing []uint64 // deleted from the store before we read them
	for _, id := range ids {
		if _, ok := in[id]; !ok {
			missing = append(missing, id)
		}
	}

	p.ixmu.Lock()
	p.log = nil
	if err == nil && p.ix == nil {
		err = fmt.Errorf("%w: %q", ErrPartitionNotFound, p.name)
	}
	if err != nil {
		p.ixmu.Unlock()
		nix.free()
		return err
	}
	tomb := map[uint64]struct{}{}
	for _, op := range log {
		if op.vec != nil {
			if err = nix.add(op.vec, []int64{int64(op.id)}); err != nil {
				break
			}
			in[op.id] = struct{}{}
		} else if _, ok := in[op.id]; ok {
			tomb[op.id] = struct{}{}
		}
	}
	if err != nil {
		p.ixmu.Unlock()
		nix.free()
		return fmt.Errorf("gallery: rebuild: %w", err)
	}
	absent := map[uint64]struct{}{}
	for _, id := range missing {
		if _, ok := p.owner[id]; ok {
			absent[id] = struct{}{}
		}
	}
	old := p.ix
	p.ix, p.tomb, p.absent, p.specTrain = nix, tomb, absent, trainMin
	p.version++
	p.compact()
	p.ixmu.Unlock()
	old.free()
	return g.snapshot(p)
}

// Snapshot writes the FAISS index of every partition with a non-exact
// (trained or graph) index that changed since its last snapshot, so the next
// Open loads it and replays only newer store records instead of rebuilding.
// Close calls it; long-running servers may call it periodically. Searches go
// on meanwhile; enrolments in a partition wait while its index is written.
func (g *Gallery) Snapshot() error {
	if !g.enter() {
		return ErrClosed
	}
	defer g.leave()
	return g.snapshotAll()
}

func (g *Gallery) snapshotAll() error {
	g.mu.RLock()
	parts := slices.Collect(maps.Values(g.parts))
	g.mu.RUnlock()
	var errs []error
	for _, p := range parts {
		errs = append(errs, g.snapshot(p))
	}
	return errors.Join(errs...)
}

// Close syncs the store, writes due snapshots and releases everything. It is
// safe to call twice; other methods then return ErrClosed.
func (g *Gallery) Close() error {
	g.closing.Store(true)
	g.life.Lock()
	defer g.life.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	g.closing.Store(false)
	err := g.snapshotAll()
	g.mu.Lock()
	for _, p := range g.parts {
		p.ixmu.Lock()
		p.ix.free()
		p.ix = nil
		p.ixmu.Unlock()
	}
	g.parts = nil
	g.mu.Unlock()
	if !g.cfg.NoSync {
		err = errors.Join(err, g.db.Sync())
	}
	return errors.Join(err, g.db.Close())
}

func appendCRC(b []byte) []byte {
	out := make([]byte, 0, len(b)+4)
	out = append(out, b...)
	c := crcOf(b)
	return append(out, byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
}

func checkCRC(b []byte) ([]byte, error) {
	if len(b) < 4 {
		return nil, errors.New("record too short")
	}
	body, c := b[:len(b)-4], b[len(b)-4:]
	want := uint32(c[0])<<24 | uint32(c[1])<<16 | uint32(c[2])<<8 | uint32(c[3])
	if crcOf(body) != want {
		return nil, errors.New("checksum mismatch")
	}
	return body, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
