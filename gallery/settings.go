package gallery

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Partition settings are small named strings an application keeps with a
// partition name (the server's PAD policy is one), in the store file:
//
//	settings  partition name -> JSON object of key -> value
//
// They belong to the name, not to the partition's templates: they may be
// set before the first enrolment and outlive DeletePartition, so a policy
// an administrator chose is not lost when the last subject goes.
var bSettings = []byte("settings")

const (
	maxSettingKey   = 64
	maxSettingValue = 1024
)

// SetPartitionSetting stores value under key for partition, durably when
// it returns; "" deletes the key.
func (g *Gallery) SetPartitionSetting(partition, key, value string) error {
	if err := checkPartition(partition); err != nil {
		return err
	}
	if key == "" || len(key) > maxSettingKey || len(value) > maxSettingValue {
		return fmt.Errorf("%w: setting %q (key 1-%d bytes, value at most %d)", ErrInvalidName, key, maxSettingKey, maxSettingValue)
	}
	if !g.enter() {
		return ErrClosed
	}
	defer g.leave()
	return g.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bSettings)
		if err != nil {
			return err
		}
		m, err := readSettings(b, partition)
		if err != nil {
			return err
		}
		if value == "" {
			delete(m, key)
		} else {
			m[key] = value
		}
		if len(m) == 0 {
			return b.Delete([]byte(partition))
		}
		// The store sequence is not bumped: it dates index snapshots,
		// and settings are not index state.
		v, _ := json.Marshal(m)
		return b.Put([]byte(partition), v)
	})
}

// PartitionSetting returns the value stored under key for partition ("" when
// none).
func (g *Gallery) PartitionSetting(partition, key string) (string, error) {
	if err := checkPartition(partition); err != nil {
		return "", err
	}
	if !g.enter() {
		return "", ErrClosed
	}
	defer g.leave()
	var out string
	err := g.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSettings)
		if b == nil {
			return nil
		}
		m, err := readSettings(b, partition)
		out = m[key]
		return err
	})
	return out, err
}

func readSettings(b *bolt.Bucket, partition string) (map[string]string, error) {
	m := map[string]string{}
	v := b.Get([]byte(partition))
	if v == nil {
		return m, nil
	}
	if err := json.Unmarshal(v, &m); err != nil {
		return m, fmt.Errorf("%w: settings of partition %q: %v", ErrCorrupt, partition, err)
	}
	return m, nil
}
