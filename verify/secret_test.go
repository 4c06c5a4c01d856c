package verify

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

func TestKeyFromSecret(t *testing.T) {
	c := kube.Start(t)
	cs := kubernetes.NewForConfigOrDie(c.Config())
	ns := c.Namespace(t)
	ctx := context.Background()
	_, key := newKey(t)
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "cosign"},
		Data:       map[string][]byte{"cosign.pub": key.PEM, "cosign.key": []byte("PRIVATE")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := KeyFromSecret(ctx, cs.CoreV1(), ns, "cosign", "cosign.pub")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.PEM) != string(key.PEM) || got.Source != "secret "+ns+"/cosign key cosign.pub" {
		t.Errorf("got %+v", got)
	}
	if _, err := NewVerifier(Settings{Keys: []Key{got}}); err != nil {
		t.Errorf("the Secret's key does not load: %v", err)
	}
	for _, tc := range []struct{ name, key, want string }{
		{"nosuch", "cosign.pub", `secrets "nosuch" not found`},
		{"cosign", "other.pub", `the Secret has no key "other.pub"`},
	} {
		_, err := KeyFromSecret(ctx, cs.CoreV1(), ns, tc.name, tc.key)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "PRIVATE") {
			t.Errorf("%s/%s: error %v, want it to contain %q", tc.name, tc.key, err, tc.want)
		}
	}
}
