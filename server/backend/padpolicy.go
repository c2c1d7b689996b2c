package backend

import "context"

// padPolicyKey is the gallery partition setting holding the PAD policy.
const padPolicyKey = "pad_policy"

// PartitionPADPolicy implements service.PADStore.
func (g *Gallery) PartitionPADPolicy(_ context.Context, partition string) (string, error) {
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
