package ui

import (
	"bytes"
	"sync"
)

// Broadcaster fans server-sent events out to subscribers: Publish formats
// an event once and hands the same bytes to every subscriber, so a change
// costs one render and one format whatever the number of viewers. A new
// subscriber first receives the latest event of each name. A subscriber
// that falls behind (its buffer full) is dropped; its browser reconnects.
type Broadcaster struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	last   map[string][]byte
	order  []string
	closed bool
}

// Subscription is one subscriber's stream of formatted events.
type Subscription struct {
	C    chan []byte // formatted "event: …\ndata: …\n\n" frames; closed when dropped
	b    *Broadcaster
	once sync.Once
}

// subscriberBuffer is how many frames a subscriber may be behind.
const subscriberBuffer = 16

// NewBroadcaster returns an empty Broadcaster.
func NewBroadcaster() *Broadcaster {
	return &Broadcaster{subs: map[*Subscription]struct{}{}, last: map[string][]byte{}}
}

// Frame formats one server-sent event: its id (when not ""), and every
// line of data as a "data:" line.
func Frame(event, id string, data []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(data) + len(data)/64 + len(event) + len(id) + 32)
	b.WriteString("event: ")
	b.WriteString(event)
	b.WriteByte('\n')
	if id != "" {
		b.WriteString("id: ")
		b.WriteString(id)
		b.WriteByte('\n')
	}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		b.WriteString("data: ")
		b.Write(bytes.TrimSuffix(line, []byte{'\r'}))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// Publish sends event with its id and data to every subscriber and keeps
// it for new ones.
func (b *Broadcaster) Publish(event, id string, data []byte) {
	frame := Frame(event, id, data)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if _, ok := b.last[event]; !ok {
		b.order = append(b.order, event)
	}
	b.last[event] = frame
	for s := range b.subs {
		select {
		case s.C <- frame:
		default:
			delete(b.subs, s)
			close(s.C)
		}
	}
}

// Subscribe returns a new subscription, primed with the latest event of
// each name.
func (b *Broadcaster) Subscribe() *Subscription {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := &Subscription{C: make(chan []byte, subscriberBuffer+len(b.order)), b: b}
	if b.closed {
		close(s.C)
		return s
	}
	for _, ev := range b.order {
		s.C <- b.last[ev]
	}
	b.subs[s] = struct{}{}
	return s
}

// Subscribers is the number of current subscribers.
func (b *Broadcaster) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Close drops every subscriber.
func (b *Broadcaster) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		delete(b.subs, s)
		close(s.C)
	}
}

// Cancel ends the subscription.
func (s *Subscription) Cancel() {
	s.once.Do(func() {
		s.b.mu.Lock()
		defer s.b.mu.Unlock()
		if _, ok := s.b.subs[s]; ok {
			delete(s.b.subs, s)
			close(s.C)
		}
	})
}
