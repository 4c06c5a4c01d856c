package server

import (
	"container/list"
	"sync"
)

// DefaultDedupSize is how many delivery IDs the server remembers.
const DefaultDedupSize = 4096

// seenIDs is a bounded LRU set of delivery IDs.
type seenIDs struct {
	mu    sync.Mutex
	size  int
	order *list.List // of string, most recent at the front
	index map[string]*list.Element
}

func newSeenIDs(size int) *seenIDs {
	if size <= 0 {
		size = DefaultDedupSize
	}
	return &seenIDs{size: size, order: list.New(), index: make(map[string]*list.Element, size)}
}

// add records id and reports whether it is new. Checking and recording are
// one step, so two concurrent deliveries of one ID cannot both be new.
func (s *seenIDs) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.index[id]; ok {
		s.order.MoveToFront(e)
		return false
	}
	s.index[id] = s.order.PushFront(id)
	if s.order.Len() > s.size {
		oldest := s.order.Back()
		s.order.Remove(oldest)
		delete(s.index, oldest.Value.(string))
	}
	return true
}

// forget removes id, so a redelivery is processed again.
func (s *seenIDs) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.index[id]; ok {
		s.order.Remove(e)
		delete(s.index, id)
	}
}
