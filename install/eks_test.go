package install_test

import (
	"bytes"
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
	"github.com/ferrygitops/ferry/server"
)

// ecrActions lists the ECR API calls Ferry's code makes, as IAM actions:
// every &ecr.<Name>Input{...} in registry/ (the SDK's one input type per
// operation).
func ecrActions(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("../registry/*.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if cl, ok := n.(*ast.CompositeLit); ok {
				if sel, ok := cl.Type.(*ast.SelectorExpr); ok {
					if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "ecr" && strings.HasSuffix(sel.Sel.Name, "Input") {
						seen["ecr:"+strings.TrimSuffix(sel.Sel.Name, "Input")] = true
					}
				}
			}
			return true
		})
	}
	if len(seen) == 0 {
		t.Fatal("found no ECR call in registry/")
	}
	return slices.Sorted(func(yield func(string) bool) {
		for a := range seen {
			if !yield(a) {
				return
			}
		}
	})
}

// iamPolicy is an IAM policy document, decoded strictly.
type iamPolicy struct {
	Version   string
	Statement []struct {
		Sid       string `json:",omitempty"`
		Effect    string
		Principal map[string]string `json:",omitempty"`
		Action    stringOrList
		Resource  any                          `json:",omitempty"`
		Condition map[string]map[string]string `json:",omitempty"`
	}
}

// stringOrList is an IAM field that is a string or a list of them.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = []string{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(s))
}

func decodeStrict(t *testing.T, what string, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEKSGuide checks every snippet of install/eks/README.md: a JSON or
// YAML block is a file of the directory, byte for byte, and each file is
// parsed and checked (the IAM policy allows exactly the ECR calls the code
// makes; the trust policy names Ferry's service account; the
// CloudFormation templates resolve every reference, set what their
// resource types require, and deliver an ECR push that Ferry's real
// webhook handler accepts); a shell line is one of the commands checked
// here against those files and the install (Secret names and keys against
// what the Deployment mounts and the config reads).
func TestEKSGuide(t *testing.T) {
	readme := string(readFile(t, "eks/README.md"))
	blocks := regexp.MustCompile("(?s)```(\\w+)\n(.*?)```").FindAllStringSubmatch(readme, -1)
	if len(blocks) < 8 {
		t.Fatalf("%d snippets in eks/README.md", len(blocks))
	}
	files, _ := filepath.Glob("eks/*")
	for _, b := range blocks {
		lang, body := b[1], b[2]
		switch lang {
		case "json", "yaml":
			if !slices.ContainsFunc(files, func(f string) bool { return string(readFile(t, f)) == body }) {
				t.Errorf("this %s snippet is not a file of install/eks:\n%s", lang, body)
			}
		case "sh":
			for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
				checkCommand(t, line)
			}
		default:
			t.Errorf("snippet of unchecked language %q", lang)
		}
	}

	actions := ecrActions(t)
	var policy iamPolicy
	decodeStrict(t, "iam-policy.json", readFile(t, "eks/iam-policy.json"), &policy)
	if len(policy.Statement) != 1 || policy.Statement[0].Effect != "Allow" || !slices.Equal(slices.Sorted(slices.Values(policy.Statement[0].Action)), actions) {
		t.Errorf("iam-policy.json allows %+v; Ferry calls %v", policy.Statement, actions)
	}
	var trust iamPolicy
	decodeStrict(t, "irsa-trust-policy.json", readFile(t, "eks/irsa-trust-policy.json"), &trust)
	st := trust.Statement[0]
	sub, aud := "", ""
	for k, v := range st.Condition["StringEquals"] {
		switch {
		case strings.HasSuffix(k, ":sub"):
			sub = v
		case strings.HasSuffix(k, ":aud"):
			aud = v
		}
	}
	if st.Effect != "Allow" || !slices.Equal(st.Action, []string{"sts:AssumeRoleWithWebIdentity"}) || sub != ferryUser || aud != "sts.amazonaws.com" ||
		!strings.Contains(st.Principal["Federated"], ":oidc-provider/") {
		t.Errorf("irsa-trust-policy.json: %+v", st)
	}

	pod := cfnTemplate(t, "eks/pod-identity.yaml")
	assoc := pod.resource(t, "AWS::EKS::PodIdentityAssociation")
	if assoc["Namespace"] != ferryNamespace || assoc["ServiceAccount"] != "ferry" {
		t.Errorf("pod-identity.yaml associates %v/%v", assoc["Namespace"], assoc["ServiceAccount"])
	}
	role := pod.resource(t, "AWS::IAM::Role")
	if got := policyActions(role); !slices.Equal(got, actions) {
		t.Errorf("pod-identity.yaml's role allows %v; Ferry calls %v", got, actions)
	}
	if !strings.Contains(fmtJSON(role["AssumeRolePolicyDocument"]), "pods.eks.amazonaws.com") {
		t.Error("pod-identity.yaml's role does not trust EKS Pod Identity")
	}

	events := cfnTemplate(t, "eks/ecr-events.yaml")
	conn := events.resource(t, "AWS::Events::Connection")
	var auth struct{ ApiKeyAuthParameters struct{ ApiKeyName string } }
	remarshal(t, conn["AuthParameters"], &auth)
	if conn["AuthorizationType"] != "API_KEY" || auth.ApiKeyAuthParameters.ApiKeyName != server.DefaultECRTokenHeader {
		t.Errorf("the connection sends %q (%v); Ferry reads %s", auth.ApiKeyAuthParameters.ApiKeyName, conn["AuthorizationType"], server.DefaultECRTokenHeader)
	}
	if dest := events.resource(t, "AWS::Events::ApiDestination"); dest["HttpMethod"] != "POST" {
		t.Errorf("the API destination: %v", dest)
	}
	rule := events.resource(t, "AWS::Events::Rule")
	// An ECR push event as EventBridge documents it; the API destination
	// delivers the event itself, with the connection's header.
	push := map[string]any{
		"version": "0", "id": "13cde686-328b-6117-af20-0e5566167482", "detail-type": "ECR Image Action", "source": "aws.ecr",
		"account": "123456789012", "time": "2024-03-01T09:00:00Z", "region": "ap-northeast-1", "resources": []any{},
		"detail": map[string]any{"result": "SUCCESS", "repository-name": "myapp", "action-type": "PUSH",
			"image-digest": "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234abcd", "image-tag": "release.20240301"},
	}
	if !matchesPattern(rule["EventPattern"], push) {
		t.Fatalf("the rule's pattern %v does not match an ECR push", rule["EventPattern"])
	}
	var got []server.Event
	h := server.New(server.Options{ECRToken: "shared-secret", Trigger: func(ev server.Event) { got = append(got, ev) }}).Handler()
	body, _ := json.Marshal(push)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/ecr", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(auth.ApiKeyAuthParameters.ApiKeyName, "shared-secret")
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	if rr.Code != http.StatusOK || len(got) != 1 || got[0].Tag != "release.20240301" ||
		got[0].Repository != "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/myapp" {
		t.Errorf("Ferry's ECR webhook answered %d to the delivered event: %s, events %+v", rr.Code, rr.Body, got)
	}
	push["detail"].(map[string]any)["result"] = "FAILURE"
	if matchesPattern(rule["EventPattern"], push) {
		t.Error("the rule sends failed pushes too")
	}
}

// checkCommand checks one line of a shell snippet of the EKS guide.
func checkCommand(t *testing.T, line string) {
	t.Helper()
	f := strings.Fields(line)
	exists := func(p string) {
		t.Helper()
		if _, err := os.Stat(filepath.Join("..", strings.TrimPrefix(p, "file://"))); err != nil {
			t.Errorf("%q names a missing path: %v", line, err)
		}
	}
	flag := func(name string) string {
		for i, a := range f {
			if a == name && i+1 < len(f) {
				return f[i+1]
			}
		}
		t.Errorf("%q lacks %s", line, name)
		return ""
	}
	switch {
	case regexp.MustCompile(`^[A-Z_]+=\$\(openssl rand -hex 32\)$`).MatchString(line):
	case strings.HasPrefix(line, "aws iam create-role "):
		exists(flag("--assume-role-policy-document"))
	case strings.HasPrefix(line, "aws iam put-role-policy "):
		exists(flag("--policy-document"))
	case strings.HasPrefix(line, "aws cloudformation deploy "):
		exists(flag("--template-file"))
		tmpl := cfnTemplate(t, strings.TrimPrefix(flag("--template-file"), "install/"))
		i := slices.Index(f, "--parameter-overrides")
		given := map[string]bool{}
		for _, kv := range f[i+1:] {
			k, _, _ := strings.Cut(kv, "=")
			given[k] = true
		}
		for p := range tmpl.Parameters {
			if !given[p] {
				t.Errorf("%q does not give parameter %s", line, p)
			}
		}
	case line == "aws eks create-addon --cluster-name prod --addon-name eks-pod-identity-agent":
	case strings.HasPrefix(line, "kubectl apply -k "):
		exists(f[3])
	case strings.HasPrefix(line, "kubectl -n ferry-system create secret generic "):
		checkSecretCommand(t, line, f[6], f[7:])
	default:
		t.Errorf("unchecked command in the EKS guide: %q", line)
	}
}

// checkSecretCommand checks that a Secret the guide creates is one the
// EKS install mounts, and that its keys are files the config reads there.
func checkSecretCommand(t *testing.T, line, name string, args []string) {
	t.Helper()
	objs := buildDir(t, "eks")
	d := find(objs, "Deployment", ferryNamespace, "ferry")
	mountOf := map[string]string{} // volume -> mount path
	ctrs, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	for _, m := range ctrs[0].(map[string]any)["volumeMounts"].([]any) {
		mm := m.(map[string]any)
		mountOf[mm["name"].(string)] = mm["mountPath"].(string)
	}
	dir := ""
	vols, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "volumes")
	for _, v := range vols {
		vm := v.(map[string]any)
		if s, ok := vm["secret"].(map[string]any); ok && s["secretName"] == name {
			dir = mountOf[vm["name"].(string)]
		}
	}
	if dir == "" {
		t.Errorf("%q: the EKS install mounts no Secret %s", line, name)
		return
	}
	cfg := string(readFile(t, "eks/config.yaml"))
	read := regexp.MustCompile(regexp.QuoteMeta(dir)+`/([\w.-]+)`).FindAllStringSubmatch(cfg, -1)
	want := map[string]bool{}
	for _, m := range read {
		want[m[1]] = true
	}
	for _, a := range args {
		k, _, ok := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "--from-file="), "--from-literal="), "=")
		if !ok || !want[k] {
			t.Errorf("%q: key %q is not a file eks/config.yaml reads in %s (%v)", line, k, dir, want)
		}
	}
}

// cfn is a CloudFormation template, long-form intrinsics only.
type cfn struct {
	Parameters map[string]map[string]any
	Resources  map[string]struct {
		Type       string
		Properties map[string]any
	}
}

// cfnRequired are the required properties of the resource types the
// templates use (CloudFormation's resource reference).
var cfnRequired = map[string][]string{
	"AWS::IAM::Role":                   {"AssumeRolePolicyDocument"},
	"AWS::EKS::PodIdentityAssociation": {"ClusterName", "Namespace", "RoleArn", "ServiceAccount"},
	"AWS::Events::Connection":          {"AuthorizationType", "AuthParameters"},
	"AWS::Events::ApiDestination":      {"ConnectionArn", "HttpMethod", "InvocationEndpoint"},
	"AWS::Events::Rule":                {},
}

func cfnTemplate(t *testing.T, p string) *cfn {
	t.Helper()
	var doc map[string]any
	if err := sigsyaml.UnmarshalStrict(readFile(t, p), &doc); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	for k := range doc {
		if !slices.Contains([]string{"AWSTemplateFormatVersion", "Description", "Parameters", "Resources", "Outputs"}, k) {
			t.Errorf("%s: unknown section %s", p, k)
		}
	}
	var c cfn
	remarshal(t, doc, &c)
	names := map[string]bool{"AWS::Region": true, "AWS::AccountId": true, "AWS::StackName": true, "AWS::Partition": true}
	for n := range c.Parameters {
		names[n] = true
	}
	for n, r := range c.Resources {
		names[n] = true
		req, known := cfnRequired[r.Type]
		if !known {
			t.Errorf("%s: resource %s of unchecked type %s", p, n, r.Type)
		}
		for _, prop := range req {
			if _, ok := r.Properties[prop]; !ok {
				t.Errorf("%s: %s (%s) lacks %s", p, n, r.Type, prop)
			}
		}
	}
	// Every Ref, Fn::GetAtt and ${} of Fn::Sub names a parameter, a
	// resource or a pseudo parameter.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				switch k {
				case "Ref":
					if !names[x.(string)] {
						t.Errorf("%s: Ref %v resolves to nothing", p, x)
					}
				case "Fn::GetAtt":
					if l, _ := x.([]any); len(l) != 2 || !names[l[0].(string)] {
						t.Errorf("%s: Fn::GetAtt %v resolves to nothing", p, x)
					}
				case "Fn::Sub":
					for _, m := range regexp.MustCompile(`\$\{([\w:]+)`).FindAllStringSubmatch(x.(string), -1) {
						if !names[m[1]] {
							t.Errorf("%s: Fn::Sub ${%s} resolves to nothing", p, m[1])
						}
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return &c
}

// resource returns the properties of the template's one resource of typ.
func (c *cfn) resource(t *testing.T, typ string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, r := range c.Resources {
		if r.Type == typ {
			found = append(found, r.Properties)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d resources of type %s", len(found), typ)
	}
	return found[0]
}

// policyActions lists the actions of an IAM role's inline policies.
func policyActions(role map[string]any) []string {
	var out []string
	pols, _ := role["Policies"].([]any)
	for _, p := range pols {
		doc := p.(map[string]any)["PolicyDocument"].(map[string]any)
		for _, s := range doc["Statement"].([]any) {
			switch a := s.(map[string]any)["Action"].(type) {
			case string:
				out = append(out, a)
			case []any:
				for _, x := range a {
					out = append(out, x.(string))
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// matchesPattern is EventBridge's matching for patterns of exact values:
// every key of the pattern is in the event, with a value the pattern's
// list holds (nested objects recursively).
func matchesPattern(pattern any, event map[string]any) bool {
	pm, ok := pattern.(map[string]any)
	if !ok {
		return false
	}
	for k, want := range pm {
		got, ok := event[k]
		if !ok {
			return false
		}
		switch w := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !ok || !matchesPattern(w, sub) {
				return false
			}
		case []any:
			if !slices.Contains(w, got) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func remarshal(t *testing.T, in, out any) {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

func fmtJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestInstallEKS applies install/eks (production, namespaced RBAC, IRSA,
// the webhook Ingress) to a fresh API server and, with the service
// account's token, syncs the production app and runs one `ferry run` cycle
// with the guide's GitHub App config against the GitHub API emulator.
func TestInstallEKS(t *testing.T) {
	cluster := kube.Start(t)
	ctx := context.Background()
	admin := cluster.Config()
	cs := kubernetes.NewForConfigOrDie(admin)
	apply(t, admin, buildDir(t, "eks"))
	sa, err := cs.CoreV1().ServiceAccounts(ferryNamespace).Get(ctx, "ferry", metav1.GetOptions{})
	if err != nil || !strings.HasPrefix(sa.Annotations["eks.amazonaws.com/role-arn"], "arn:aws:iam::") {
		t.Errorf("the ServiceAccount's IRSA annotation: %v %v", err, sa.Annotations)
	}
	ing, err := cs.NetworkingV1().Ingresses(ferryNamespace).Get(ctx, "ferry-webhooks", metav1.GetOptions{})
	if err != nil || len(ing.Spec.Rules) != 1 || len(ing.Spec.Rules[0].HTTP.Paths) != 1 || ing.Spec.Rules[0].HTTP.Paths[0].Path != "/webhooks/" {
		t.Errorf("the Ingress exposes more than /webhooks/: %v %+v", err, ing.Spec)
	}

	token := serviceAccountToken(t, cs)
	waitAllowed(t, tokenConfig(admin, token), access{namespace: "myapp-production", group: "apps", resource: "deployments", verb: "patch"})
	cfg, err := yaml.Parse(string(readFile(t, "eks/config.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	srv := startServers(t, withAppFrom(t, cfg))
	kubeconfig := writeKubeconfig(t, admin, token)
	kube.FakeDeploymentController(t, admin, "myapp-production")
	code, out, errs := srv.ferry(t, "sync", "myapp-production", "--repo", srv.url, "--kubeconfig", kubeconfig, "--timeout", "1m", "-o", "json")
	var rec deploy.Record
	if code != 0 || json.Unmarshal([]byte(out), &rec) != nil || rec.Result != deploy.Succeeded {
		t.Fatalf("ferry sync myapp-production: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := srv.ferry(t, "sync", "myapp-staging", "--repo", srv.url, "--kubeconfig", kubeconfig); code != 3 || !strings.Contains(errs, "cannot get resource \"namespaces\"") {
		t.Errorf("ferry sync myapp-staging in the production cluster: exit %d\n%s", code, errs)
	}
	start := time.Now()
	runOneCycle(t, srv, "eks", "myapp-production", kubeconfig)
	if srv.gh.InstallationTokensMinted() == 0 {
		t.Errorf("ferry run with the GitHub App config minted no installation token (ran %s)", time.Since(start))
	}
}
