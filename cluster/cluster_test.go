package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const kubeconfig = `apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev
  cluster: {server: https://dev.example.com:6443}
- name: eks-staging
  cluster: {server: https://STAGING.gr7.eu-west-1.eks.amazonaws.com}
- name: eks-prod
  cluster: {server: https://PROD.gr7.eu-west-1.eks.amazonaws.com/}
- name: gke
  cluster: {server: https://10.0.0.1}
users:
- name: u
  user: {token: t}
contexts:
- name: dev
  context: {cluster: dev, user: u}
- name: arn:aws:eks:eu-west-1:123456789012:cluster/staging
  context: {cluster: eks-staging, user: u}
- name: alice@production.eu-west-1.eksctl.io
  context: {cluster: eks-prod, user: u}
- name: gke_acme_europe-west1_batch
  context: {cluster: gke, user: u}
- name: gke_acme_us-east1_batch
  context: {cluster: gke, user: u}
`

func TestResolve(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := Options{Kubeconfig: path, Aliases: map[string]string{"batch": "gke_acme_us-east1_batch"}}
	for _, tc := range []struct {
		d                  Destination
		context, host, how string
	}{
		{Destination{}, "dev", "https://dev.example.com:6443", "current context"},
		{Destination{Context: "dev"}, "dev", "https://dev.example.com:6443", "context"},
		{Destination{Context: "staging"}, "arn:aws:eks:eu-west-1:123456789012:cluster/staging", "https://STAGING.gr7.eu-west-1.eks.amazonaws.com", "EKS/GKE/eksctl/kind name"},
		{Destination{Context: "production"}, "alice@production.eu-west-1.eksctl.io", "https://PROD.gr7.eu-west-1.eks.amazonaws.com/", "EKS/GKE/eksctl/kind name"},
		{Destination{Context: "batch"}, "gke_acme_us-east1_batch", "https://10.0.0.1", "alias"},
		{Destination{Server: "https://PROD.gr7.eu-west-1.eks.amazonaws.com"}, "alice@production.eu-west-1.eksctl.io", "https://PROD.gr7.eu-west-1.eks.amazonaws.com/", "server URL"},
	} {
		cfg, r, err := Resolve(opts, tc.d)
		if err != nil {
			t.Errorf("%+v: %v", tc.d, err)
			continue
		}
		if r.Context != tc.context || cfg.Host != tc.host || r.How != tc.how {
			t.Errorf("%+v: resolved %+v host %s; want %s %s %s", tc.d, r, cfg.Host, tc.context, tc.host, tc.how)
		}
	}
	for _, tc := range []struct {
		d    Destination
		want string
	}{
		{Destination{Context: "nope"}, `no kubeconfig context "nope" (contexts: alice@production`},
		{Destination{Context: "batch"}, `maps to "gone"`},
		{Destination{Server: "https://10.0.0.1"}, "2 kubeconfig contexts talk to https://10.0.0.1"},
		{Destination{Server: "https://elsewhere"}, "no kubeconfig context talks to https://elsewhere"},
	} {
		o := opts
		if tc.want == `maps to "gone"` {
			o.Aliases = map[string]string{"batch": "gone"}
		}
		if _, _, err := Resolve(o, tc.d); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.d, err, tc.want)
		}
	}
	o := opts
	o.Aliases = nil
	if _, _, err := Resolve(o, Destination{Context: "batch"}); err == nil || !strings.Contains(err.Error(), "matches 2 kubeconfig contexts") {
		t.Errorf("two GKE clusters named batch: %v", err)
	}
	if _, err := ParseAliases([]string{"a=b", "bad"}); err == nil {
		t.Error("ParseAliases accepted a pair without =")
	}
}
