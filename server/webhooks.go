package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
)

// Results of a webhook delivery (label result of ferry_webhooks_total).
const (
	webhookAccepted     = "accepted"
	webhookDuplicate    = "duplicate"
	webhookIgnored      = "ignored"
	webhookPing         = "ping"
	webhookUnauthorized = "unauthorized"
	webhookInvalid      = "invalid"
	webhookTooLarge     = "too_large"
	webhookMediaType    = "unsupported_media_type"
	webhookDisabled     = "disabled"
	webhookStandby      = "standby"
)

// webhookResponse is the JSON body of every webhook answer.
type webhookResponse struct {
	Accepted   int    `json:"accepted"`
	Duplicate  bool   `json:"duplicate,omitempty"`  // nothing new: every triggering event was seen before
	Duplicates int    `json:"duplicates,omitempty"` // events dropped as already seen
	Ignored    int    `json:"ignored,omitempty"`    // events that trigger nothing
	Reason     string `json:"reason,omitempty"`     // why they were ignored
	Error      string `json:"error,omitempty"`
}

// reject answers a delivery that was not processed. msg must not hold
// secrets or request content beyond short field values.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, source string, code int, result, msg string) {
	s.opts.Metrics.Webhook(source, result)
	level := slog.LevelWarn
	if code == http.StatusNotFound {
		level = slog.LevelDebug
	}
	s.log.Log(r.Context(), level, "webhook rejected", "source", source, "status", code, "reason", msg, "remote", r.RemoteAddr)
	writeJSON(w, code, webhookResponse{Error: msg})
}

// readBody checks that the request's Content-Type, if any, is one of types
// and reads the body up to the limit. On failure it has answered the
// request and returns false.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, source string, types ...string) ([]byte, bool) {
	if !s.mediaTypeOK(w, r, source, types...) {
		return nil, false
	}
	limit := s.opts.MaxBodyBytes
	if r.ContentLength > limit {
		s.reject(w, r, source, http.StatusRequestEntityTooLarge, webhookTooLarge, fmt.Sprintf("body larger than %d bytes", limit))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.reject(w, r, source, http.StatusRequestEntityTooLarge, webhookTooLarge, fmt.Sprintf("body larger than %d bytes", limit))
		} else {
			s.reject(w, r, source, http.StatusBadRequest, webhookInvalid, "reading the body failed")
		}
		return nil, false
	}
	return body, true
}

// mediaTypeOK reports whether the request's Content-Type, if any, is one of
// types. On false it has answered the request.
func (s *Server) mediaTypeOK(w http.ResponseWriter, r *http.Request, source string, types ...string) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		for _, t := range types {
			if strings.EqualFold(mt, t) {
				return true
			}
		}
	}
	s.reject(w, r, source, http.StatusUnsupportedMediaType, webhookMediaType, "unsupported content type (use "+strings.Join(types, " or ")+")")
	return false
}

// tokenEqual compares a presented token with the configured one in time
// independent of both their contents and their lengths.
func tokenEqual(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1 && want != ""
}

// dispatch hands each event not seen before to Trigger, records it, and
// answers the delivery: 200 with the count accepted, 200 {"duplicate":true}
// when every event was seen before, or 202 when nothing triggers.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, source string, events []Event, ignored int, reason string) {
	res := webhookResponse{Ignored: ignored}
	if len(events) > 0 && s.opts.Standby != nil && s.opts.Standby() {
		w.Header().Set("Retry-After", "5")
		s.reject(w, r, source, http.StatusServiceUnavailable, webhookStandby, "this replica does not lead: another one does the work")
		return
	}
	for _, ev := range events {
		ev.Source = source
		ev.Received = s.opts.Now()
		if s.opts.Filter != nil {
			if why := s.opts.Filter(ev); why != "" {
				res.Ignored++
				reason = why
				s.opts.Events.Record(EventRecord{Time: ev.Received, Source: source, Summary: "ignored " + ev.Summary() + ": " + why})
				s.log.Info("webhook event ignored", "source", source, "id", ev.ID, "event", ev.Summary(), "reason", why)
				continue
			}
		}
		key := source + "\x00" + ev.ID
		if ev.ID != "" && !s.seen.add(key) {
			res.Duplicates++
			s.log.Info("webhook duplicate dropped", "source", source, "id", ev.ID)
			continue
		}
		s.trigger(ev, key)
		res.Accepted++
		s.opts.Events.Record(EventRecord{Time: ev.Received, Source: source, Summary: ev.Summary()})
		s.log.Info("webhook accepted", "source", source, "id", ev.ID, "kind", ev.Kind, "event", ev.Summary())
	}
	switch {
	case res.Accepted > 0:
		s.opts.Metrics.Webhook(source, webhookAccepted)
		writeJSON(w, http.StatusOK, res)
	case res.Duplicates > 0:
		res.Duplicate = true
		s.opts.Metrics.Webhook(source, webhookDuplicate)
		writeJSON(w, http.StatusOK, res)
	default:
		res.Reason = reason
		s.opts.Metrics.Webhook(source, webhookIgnored)
		s.log.Debug("webhook ignored", "source", source, "reason", reason)
		writeJSON(w, http.StatusAccepted, res)
	}
}

// trigger calls Trigger; if it panics, the delivery ID is forgotten so a
// redelivery is not dropped as a duplicate.
func (s *Server) trigger(ev Event, key string) {
	ok := false
	defer func() {
		if !ok && ev.ID != "" {
			s.seen.forget(key)
		}
	}()
	s.opts.Trigger(ev)
	ok = true
}
