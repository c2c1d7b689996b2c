package backend

import (
	"context"

	"vizor/gallery"
)

// padPolicyKey is the gallery partition setting holding the PAD policy.
const padPolicyKey = "pad_policy"

// PartitionPADPolicy implements service.PADStore.
func (g *Gallery) PartitionPADPolicy(_ context.Context, partition string) (string, error) {
	if !gallery.ValidPartitionName(partition) {
		// No policy can be stored under such a name; the request meets
		// the gallery's own answer for it (not found) later.
		return "", nil
	}
	v, err := g.G.PartitionSetting(partition, padPolicyKey)
	if err != nil {
		return "", mapGalleryErr(err)
	}
	return v, nil
}

// SetPartitionPADPolicy implements service.PADStore.
func (g *Gallery) SetPartitionPADPolicy(_ context.Context, partition, policy string) error {
	if err := g.G.SetPartitionSetting(partition, padPolicyKey, policy); err != nil {
		return mapGalleryErr(err)
	}
	return nil
}
