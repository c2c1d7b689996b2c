package gallery

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"io"
	"math"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store layout (bbolt, one file: <Dir>/gallery.db):
//
//	meta   "format" -> storeFormat; "nextid" -> u64 (last id handed out);
//	       "seq" -> u64 (bumped by every committed mutation)
//	parts  name -> partRec (JSON)
//	loc    id (u64 BE) -> partition name (lets Image(id) find a template)
//	P/<name>          one bucket per partition, holding:
//	   t   id -> template record (vector, model, created, meta, CRC-32C)
//	   o   id -> subject
//	   s   subject 0x00 id -> "" (sorted listing of subjects and templates)
//	   i   id -> image bytes + CRC-32C
const storeFormat = "vizor-gallery/1"

const storeFile = "gallery.db"

var (
	bMeta  = []byte("meta")
	bParts = []byte("parts")
	bLoc   = []byte("loc")
	bT     = []byte("t")
	bO     = []byte("o")
	bS     = []byte("s")
	bI     = []byte("i")

	kFormat = []byte("format")
	kNextID = []byte("nextid")
	kSeq    = []byte("seq")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func partBucketName(name string) []byte { return []byte("P/" + name) }

type partRec struct {
	Model   string    `json:"model"`
	Dim     int       `json:"dim"`
	Spec    string    `json:"spec"`
	Epoch   uint64    `json:"epoch"` // store seq at creation; tells a snapshot of an older namesake apart
	Created time.Time `json:"created"`
}

func idKey(id uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	return b[:]
}

func keyID(k []byte) uint64 { return binary.BigEndian.Uint64(k) }

func subjKey(subject string, id uint64) []byte {
	k := make([]byte, 0, len(subject)+9)
	k = append(k, subject...)
	k = append(k, 0)
	return append(k, idKey(id)...)
}

func getU64(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putU64(b *bolt.Bucket, k []byte, v uint64) error { return b.Put(k, idKey(v)) }

// bumpSeq increments the store sequence and returns the new value.
func bumpSeq(tx *bolt.Tx) (uint64, error) {
	m := tx.Bucket(bMeta)
	s := getU64(m, kSeq) + 1
	return s, putU64(m, kSeq, s)
}

func readPartRec(tx *bolt.Tx, name string) (*partRec, error) {
	v := tx.Bucket(bParts).Get([]byte(name))
	if v == nil {
		return nil, nil
	}
	var r partRec
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("%w: partition record %q: %v", ErrCorrupt, name, err)
	}
	return &r, nil
}

func writePartRec(tx *bolt.Tx, name string, r *partRec) error {
	v, _ := json.Marshal(r)
	return tx.Bucket(bParts).Put([]byte(name), v)
}

// tmplRec is a decoded template record.
type tmplRec struct {
	Created  time.Time
	Model    string
	Vector   []float32
	Meta     map[string]string
	HasImage bool
}

const tmplVersion = 1

func encodeTmpl(r *tmplRec) []byte {
	n := 1 + 8 + 1 + 10 + len(r.Model) + 10 + 4*len(r.Vector) + 10 + 4
	for k, v := range r.Meta {
		n += 20 + len(k) + len(v)
	}
	b := make([]byte, 0, n)
	b = append(b, tmplVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Created.UnixNano()))
	flags := byte(0)
	if r.HasImage {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(r.Model)))
	b = append(b, r.Model...)
	b = binary.AppendUvarint(b, uint64(len(r.Vector)))
	for _, f := range r.Vector {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	b = binary.AppendUvarint(b, uint64(len(r.Meta)))
	for k, v := range r.Meta {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err || n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// decodeVec checks a template record and appends its vector to dst.
func decodeVec(v []byte, dst []float32) ([]float32, error) {
	if len(v) < 1+8+1+4 || v[0] != tmplVersion {
		return dst, fmt.Errorf("bad template record header")
	}
	body := v[:len(v)-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(v[len(v)-4:]) {
		return dst, fmt.Errorf("template record checksum mismatch")
	}
	d := &decoder{b: body[10:]}
	d.bytes(d.uvarint()) // model
	dim := d.uvarint()
	raw := d.bytes(dim * 4)
	if d.err {
		return dst, fmt.Errorf("truncated template record")
	}
	for i := uint64(0); i < dim; i++ {
		dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
	}
	return dst, nil
}

// decodeTmpl decodes a template record. dst, if long enough, receives the
// vector.
func decodeTmpl(v []byte, dst []float32) (*tmplRec, error) {
	if len(v) < 1+8+1+4 || v[0] != tmplVersion {
		return nil, fmt.Errorf("bad template record header")
	}
	body := v[:len(v)-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(v[len(v)-4:]) {
		return nil, fmt.Errorf("template record checksum mismatch")
	}
	r := &tmplRec{Created: time.Unix(0, int64(binary.BigEndian.Uint64(body[1:9]))).UTC(), HasImage: body[9]&1 != 0}
	d := &decoder{b: body[10:]}
	r.Model = string(d.bytes(d.uvarint()))
	dim := d.uvarint()
	raw := d.bytes(dim * 4)
	if d.err {
		return nil, fmt.Errorf("truncated template record")
	}
	if uint64(cap(dst)) >= dim {
		r.Vector = dst[:dim]
	} else {
		r.Vector = make([]float32, dim)
	}
	for i := range r.Vector {
		r.Vector[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	if nm := d.uvarint(); nm > 0 && !d.err {
		r.Meta = make(map[string]string, nm)
		for i := uint64(0); i < nm && !d.err; i++ {
			k := string(d.bytes(d.uvarint()))
			r.Meta[k] = string(d.bytes(d.uvarint()))
		}
	}
	if d.err || len(d.b) != 0 {
		return nil, fmt.Errorf("malformed template record")
	}
	return r, nil
}

// checkBoltFile validates the bbolt file's meta pages and size before bbolt
// maps it: a truncated file would otherwise fault (SIGBUS) on first access.
// It returns nil for a missing or empty file (a new store).
func checkBoltFile(path string) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() == 0 {
		return corruptf(path, "file is empty")
	}
	// Page header: id u64, flags u16, count u16, overflow u32 (16 bytes);
	// meta: magic u32, version u32, pageSize u32, flags u32, root pgid u64,
	// root seq u64, freelist u64, pgid u64, txid u64, checksum u64.
	type meta struct {
		pageSize uint32
		pgid     uint64
		txid     uint64
		ok       bool
	}
	read := func(off int64) meta {
		var buf [16 + 64]byte
		if _, err := f.ReadAt(buf[:], off); err != nil && err != io.EOF {
			return meta{}
		}
		m := buf[16:]
		le := binary.LittleEndian
		if le.Uint32(m[0:]) != 0xED0CDAED || le.Uint32(m[4:]) != 2 {
			return meta{}
		}
		h := fnv.New64a()
		h.Write(m[:56])
		if h.Sum64() != le.Uint64(m[56:]) {
			return meta{}
		}
		return meta{pageSize: le.Uint32(m[8:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:]), ok: true}
	}
	m0 := read(0)
	ps := int64(m0.pageSize)
	if !m0.ok {
		ps = pageSize
	}
	m1 := read(ps)
	best := m0
	if !m0.ok || (m1.ok && m1.txid > m0.txid) {
		best = m1
	}
	if !best.ok {
		return corruptf(path, "no valid bbolt meta page (not a gallery store, or overwritten)")
	}
	if need := int64(best.pgid) * int64(best.pageSize); st.Size() < need {
		return corruptf(path, "truncated: file is %d bytes, its last transaction needs %d", st.Size(), need)
	}
	return nil
}

func hasPrefix(k []byte, p []byte) bool { return bytes.HasPrefix(k, p) }
