package inventory

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferrygitops/ferry/deploy/render"
)

func TestInventoryRoundTrip(t *testing.T) {
	inv := Inventory{
		{Group: "apps", Kind: "Deployment", Namespace: "web", Name: "api"}: "apps/v1",
		{Kind: "Namespace", Name: "web"}:                                   "v1",
		{Kind: "ConfigMap", Namespace: "web", Name: "c"}:                   "v1",
	}
	s := inv.Encode()
	want := "[\n[\"v1\",\"Namespace\",\"\",\"web\"],\n[\"v1\",\"ConfigMap\",\"web\",\"c\"],\n[\"apps/v1\",\"Deployment\",\"web\",\"api\"]\n]\n"
	if s != want {
		t.Errorf("Encode =\n%s", s)
	}
	back, err := Decode(s)
	if err != nil || !cmp.Equal(inv, back) {
		t.Fatalf("Decode = %v %v", back, err)
	}
	if empty, err := Decode(""); err != nil || len(empty) != 0 {
		t.Errorf("empty: %v %v", empty, err)
	}
	for _, bad := range []string{"{", `[["a/b/c","K","","n"]]`} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%q) succeeded", bad)
		}
	}
}

func TestStateAppend(t *testing.T) {
	st := &State{}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(id, rev string, res Result, objects int) {
		r := Record{ID: id, Revision: rev, Result: res, Finished: t0}
		for i := range objects {
			r.Objects = append(r.Objects, ObjectResult{ObjectKey: render.ObjectKey{Kind: "ConfigMap", Name: fmt.Sprint(i)}, Action: ActionConfigured})
		}
		r.Objects = append(r.Objects, ObjectResult{Action: ActionUnchanged, Health: "Current"})
		st.Append(r, 3)
	}
	if _, err := st.PreviousRevision(""); !errors.Is(err, ErrNoPreviousRevision) {
		t.Errorf("empty: %v", err)
	}
	add("1", "a", Succeeded, 1)
	add("1", "a", Succeeded, 1) // a retried write
	add("2", "b", Failed, 0)
	add("3", "b", Degraded, StoredObjects+5)
	add("4", "c", Succeeded, 0)
	if len(st.History) != 3 || st.History[0].ID != "4" || st.History[2].ID != "2" {
		t.Fatalf("history = %+v", st.History)
	}
	if h := st.History[1]; len(h.Objects) != StoredObjects || h.ObjectsOmitted != 5 {
		t.Errorf("stored record: %d objects, %d omitted", len(h.Objects), h.ObjectsOmitted)
	}
	if st.LastRevision() != "c" {
		t.Errorf("LastRevision = %s", st.LastRevision())
	}
	if prev, err := st.PreviousRevision("c"); err != nil || prev != "b" {
		t.Errorf("PreviousRevision = %s %v", prev, err)
	}
	var revs []string
	for _, r := range st.Succeeded {
		revs = append(revs, r.Revision)
	}
	if !cmp.Equal(revs, []string{"c", "b", "a"}) {
		t.Errorf("succeeded = %v", revs)
	}
	rec := Record{Objects: []ObjectResult{{Action: ActionCreated, Health: "InProgress"}, {Action: ActionPruned, Health: "NotFound"}}}
	if rec.Healthy() {
		t.Error("InProgress is healthy")
	}
	var c Counts
	for _, a := range []Action{ActionCreated, ActionConfigured, ActionUnchanged, ActionPruned, ActionSkipped, ActionFailed, ActionRemoved} {
		c.Add(a)
	}
	if c != (Counts{1, 1, 1, 1, 1, 1}) || !c.Changed() {
		t.Errorf("counts = %+v", c)
	}
}

func TestStateEncoding(t *testing.T) {
	st := &State{History: []Record{{ID: "1", Result: Failed, Reason: Rejected}}, Pin: &Pin{Revision: "r"}, Succeeded: []RevisionRecord{{Revision: "r"}}}
	data, err := encodeState(st)
	if err != nil {
		t.Fatal(err)
	}
	back := &State{}
	if err := decodeState(data, back); err != nil || !cmp.Equal(st, back) {
		t.Fatalf("round trip: %v\n%s", err, cmp.Diff(st, back))
	}
	for _, k := range []string{"history", "pin", "succeeded"} {
		bad := map[string]string{k: "{"}
		if err := decodeState(bad, &State{}); err == nil {
			t.Errorf("%s: no error", k)
		}
	}
}
