package verify

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// KeyFromSecret reads a cosign public key from the data key of a Kubernetes
// Secret (kubernetes.Interface.CoreV1() satisfies SecretsGetter). The key is
// public, but the Secret's other keys are never read into the result, and
// errors name the Secret, never its content.
func KeyFromSecret(ctx context.Context, secrets corev1client.SecretsGetter, namespace, name, key string) (Key, error) {
	src := fmt.Sprintf("secret %s/%s key %s", namespace, name, key)
	s, err := secrets.Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return Key{}, fmt.Errorf("reading the public key from %s: %w", src, err)
	}
	pem, ok := s.Data[key]
	if !ok {
		return Key{}, fmt.Errorf("reading the public key from %s: the Secret has no key %q", src, key)
	}
	return Key{PEM: pem, Source: src}, nil
}
