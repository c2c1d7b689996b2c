package service

// QueueDepth is the number of single-image requests waiting for the
// batcher to take them into a batch (those already collected into the next
// batch, waiting for an engine slot, are not counted): a depth that stays
// up means the engine is the bottleneck. 0 when batching is off.
func (b *Batcher) QueueDepth() int { return len(b.reqs) }
