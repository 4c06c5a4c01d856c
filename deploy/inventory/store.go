package inventory

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// Names of the ConfigMaps kept per app in its inventory namespace.
const (
	InventoryPrefix = "ferry-inventory-" // the objects of the last syncs
	RecordPrefix    = "ferry-app-"       // sync history and rollback pin
)

// LabelOwner marks Ferry's own bookkeeping objects of an app (not
// render.LabelApp: they are not part of the app).
const LabelOwner = "ferry.dev/owner-app"

// Store reads and writes an app's inventory and record.
type Store struct {
	Client corev1client.ConfigMapsGetter
	// Retry runs one request, retrying transient failures; nil runs it
	// once.
	Retry func(ctx context.Context, fn func() error) error
	// FieldManager names the writer of every write.
	FieldManager string
}

func (s Store) retry(ctx context.Context, fn func() error) error {
	if s.Retry == nil {
		return fn()
	}
	return s.Retry(ctx, fn)
}

func (s Store) get(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	var cm *corev1.ConfigMap
	err := s.retry(ctx, func() (err error) {
		cm, err = s.Client.ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		return err
	})
	return cm, err
}

// ReadState reads the record of app in namespace ns; a missing record is
// an empty State.
func (s Store) ReadState(ctx context.Context, ns, app string) (*State, error) {
	st := &State{}
	cm, err := s.get(ctx, ns, RecordPrefix+app)
	if apierrors.IsNotFound(err) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the record of app %s: %w", app, err)
	}
	if err := decodeState(cm.Data, st); err != nil {
		return nil, fmt.Errorf("reading the record of app %s: %w", app, err)
	}
	return st, nil
}

func decodeState(data map[string]string, st *State) error {
	if h := data["history"]; h != "" {
		if err := json.Unmarshal([]byte(h), &st.History); err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	if p := data["pin"]; p != "" {
		st.Pin = &Pin{}
		if err := json.Unmarshal([]byte(p), st.Pin); err != nil {
			return fmt.Errorf("pin: %w", err)
		}
	}
	if sr := data["succeeded"]; sr != "" {
		if err := json.Unmarshal([]byte(sr), &st.Succeeded); err != nil {
			return fmt.Errorf("succeeded: %w", err)
		}
	}
	return nil
}

func encodeState(st *State) (map[string]string, error) {
	data := map[string]string{}
	h, err := json.MarshalIndent(st.History, "", " ")
	if err != nil {
		return nil, err
	}
	data["history"] = string(h)
	if st.Pin != nil {
		p, err := json.Marshal(st.Pin)
		if err != nil {
			return nil, err
		}
		data["pin"] = string(p)
	}
	if len(st.Succeeded) > 0 {
		sr, err := json.Marshal(st.Succeeded)
		if err != nil {
			return nil, err
		}
		data["succeeded"] = string(sr)
	}
	return data, nil
}

// UpdateState read-modify-writes the record; mutate reports whether it
// changed anything.
func (s Store) UpdateState(ctx context.Context, ns, app string, mutate func(st *State) bool) error {
	return s.update(ctx, ns, app, RecordPrefix+app, func(cm *corev1.ConfigMap) (bool, error) {
		st := &State{}
		if err := decodeState(cm.Data, st); err != nil {
			return false, err
		}
		if !mutate(st) {
			return false, nil
		}
		data, err := encodeState(st)
		if err != nil {
			return false, err
		}
		cm.Data = data
		return true, nil
	})
}

// ReadInventory reads the inventory of app in namespace ns; a missing one
// is empty.
func (s Store) ReadInventory(ctx context.Context, ns, app string) (Inventory, error) {
	cm, err := s.get(ctx, ns, InventoryPrefix+app)
	if apierrors.IsNotFound(err) {
		return Inventory{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the inventory of app %s: %w", app, err)
	}
	inv, err := Decode(cm.Data["objects"])
	if err != nil {
		return nil, fmt.Errorf("reading the inventory of app %s: %w", app, err)
	}
	return inv, nil
}

// WriteInventory replaces the inventory of app; writing what is there
// already makes no write.
func (s Store) WriteInventory(ctx context.Context, ns, app string, inv Inventory) error {
	want := inv.Encode()
	return s.update(ctx, ns, app, InventoryPrefix+app, func(cm *corev1.ConfigMap) (bool, error) {
		if cm.Data["objects"] == want {
			return false, nil
		}
		cm.Data = map[string]string{"objects": want}
		return true, nil
	})
}

// update gets (or starts) ConfigMap name in namespace ns, lets mutate
// change it and writes it back, retrying on conflicts and transient errors.
func (s Store) update(ctx context.Context, ns, app, name string, mutate func(cm *corev1.ConfigMap) (bool, error)) error {
	cms := s.Client.ConfigMaps(ns)
	for attempt := 0; ; attempt++ {
		cm, err := s.get(ctx, ns, name)
		exists := err == nil
		switch {
		case apierrors.IsNotFound(err):
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		case err != nil:
			return fmt.Errorf("reading ConfigMap %s/%s: %w", ns, name, err)
		}
		changed, err := mutate(cm)
		if err != nil {
			return fmt.Errorf("ConfigMap %s/%s: %w", ns, name, err)
		}
		if !changed {
			return nil
		}
		if cm.Labels == nil {
			cm.Labels = map[string]string{}
		}
		cm.Labels["app.kubernetes.io/managed-by"] = "ferry"
		cm.Labels[LabelOwner] = app
		err = s.retry(ctx, func() error {
			var err error
			if exists {
				_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: s.FieldManager})
			} else {
				_, err = cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: s.FieldManager})
			}
			return err
		})
		if (apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) && attempt < 5 {
			continue
		}
		if err != nil {
			return fmt.Errorf("writing ConfigMap %s/%s: %w", ns, name, err)
		}
		return nil
	}
}
