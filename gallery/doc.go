// Package gallery stores face templates for 1:N search and 1:1 verification.
//
// A gallery holds named partitions ("default", "watchlist", ...; 1-64
// characters of [A-Za-z0-9._-]); a partition holds subjects (1-256 bytes of
// UTF-8, no control characters); a subject holds one or more templates:
// L2-normalised float32 vectors tagged with the id of the model that made
// them. A partition takes the model and dimension of its first template;
// templates of another model or dimension are refused (ErrModelMismatch,
// ErrDimMismatch). Each template has a unique uint64 id, never reused
// (FormatID/ParseID for its string form), optional metadata and, with
// Config.KeepImages, the original image bytes.
//
// # API
//
//	g, err := gallery.Open(gallery.Config{Dir: "/var/lib/vizor/gallery"})
//	info, err := g.Enrol(part, subject, gallery.Template{Model: m, Vector: v}, gallery.EnrolOptions{Image: jpg, Meta: meta})
//	cands, err := g.Search(part, probe, topK, minScore) // distinct subjects, best first
//	cand, err := g.Verify(part, subject, probe)         // best score over the subject's templates
//	err = g.DeleteTemplate(part, id)
//	n, err := g.DeleteSubject(part, subject)
//	err = g.RenameSubject(part, from, to, merge)         // ErrSubjectExists if to exists and !merge
//	err = g.DeletePartition(part)
//	names := g.Partitions()                              // sorted
//	subjects, err := g.Subjects(part)                    // sorted; callers page
//	ok, err := g.HasSubject(part, subject)
//	infos, err := g.Templates(part, subject)             // subject "" = whole partition
//	info, t, err := g.Template(id)                       // with its vector
//	img, info, err := g.Image(id)                        // ErrImageNotFound if none kept
//	st := g.Stats()                                      // totals and per partition
//	err = g.SetIndexSpec(part, "HNSW32,Flat;efSearch=128") // rebuilt aside, swapped in
//	err = g.Snapshot()                                   // persist trained/graph indexes now
//	err = g.Close()                                      // safe twice; then ErrClosed
//
// Scores are inner products, i.e. cosine similarities of normalised
// templates. Search asks FAISS for more neighbours than topK and keeps each
// subject's best template, widening the request until topK distinct subjects
// are found, the scores fall below minScore, or the partition is exhausted.
//
// # Storage and durability
//
// Templates and metadata live in one bbolt file (<Dir>/gallery.db). bbolt
// was chosen because it is a single file, ACID with copy-on-write B+trees,
// fsyncs every commit (an Enrol or delete that returned nil survives kill -9
// and power loss), and is pure Go (no cgo beyond FAISS, nothing to run
// beside the server). Concurrent writers share commits through DB.Batch
// (group commit: 16 writers share each fsync). Every template record carries
// a CRC-32C; start-up checks the bbolt meta pages and file length before
// mapping the file and every record against its checksum, and fails with
// ErrCorrupt naming the file rather than open a damaged store.
//
// The FAISS indexes are memory only. At start-up an exhaustive index (Flat,
// SQfp16) is rebuilt from the store (a copy); a graph or trained index (HNSW,
// IVF, PQ, SQ8) is loaded from its snapshot in <Dir>/snapshots, tagged with
// the partition's epoch and the store sequence and checked by CRC, and the
// store's changes since are replayed onto it (templates it lacks are added,
// templates since deleted are dropped). A snapshot that is missing, stale or
// corrupt is ignored and the index rebuilt (Stats().Notes says so). Close
// writes snapshots; servers may call Snapshot periodically to bound replay.
//
// # Indexes
//
// Each partition is an IndexIDMap2 over the index that its spec names:
// "FACTORY[;efSearch=N,nprobe=N,shards=N]", FACTORY a faiss index_factory
// string. The default is "Flat" (exact inner product), split into
// GOMAXPROCS shards searched in parallel. Config.DefaultIndexSpec and
// Config.IndexSpecs choose the spec of new partitions; SetIndexSpec changes it
// later: the new index is built from the store while searches and enrolments
// go on, the changes made meanwhile are replayed onto it, and it is swapped
// in under a short write lock. A spec that needs training (IVF, PQ, SQ8) runs
// on Flat until the partition holds enough templates, then trains in the
// background. Indexes that cannot delete (HNSW) hide deleted templates and are
// rebuilt when an eighth of their vectors are deleted.
//
// # Concurrency
//
// All methods are safe for concurrent use. Searches run in parallel with
// each other and with enrolments; an enrolment is searchable when Enrol
// returns.
package gallery
