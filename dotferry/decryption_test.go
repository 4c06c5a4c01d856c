package dotferry

import (
	"strings"
	"testing"
)

func TestAppDecryption(t *testing.T) {
	set, err := Parse(".ferry/apps.yaml", []byte(`apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: web}
spec:
  source: {path: web}
  decryption:
    provider: sops
    secretRef: {name: sops-age}
---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: plain}
spec:
  source: {path: plain}
`))
	if err != nil {
		t.Fatal(err)
	}
	web, _ := FindApp(set.Apps, "web")
	if web.Decryption == nil || web.Decryption.Provider != "sops" || web.Decryption.SecretRef == nil || web.Decryption.SecretRef.Name != "sops-age" {
		t.Errorf("web.Decryption = %+v", web.Decryption)
	}
	if p, _ := FindApp(set.Apps, "plain"); p.Decryption != nil {
		t.Errorf("plain.Decryption = %+v", p.Decryption)
	}
	_, err = Parse(".ferry/bad.yaml", []byte(`apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: web}
spec:
  source: {path: web}
  decryption:
    provider: vault
    secretRef: {name: Not_A_Name, namespace: x}
`))
	for _, want := range []string{
		`.ferry/bad.yaml:7: spec.decryption.provider: unknown provider "vault": want sops`,
		`.ferry/bad.yaml:8:`,
		`spec.decryption.secretRef.name: invalid Secret name "Not_A_Name"`,
		`spec.decryption.secretRef.namespace`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}
