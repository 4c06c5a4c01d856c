package dotferry

import (
	"reflect"
	"strings"
	"testing"
)

func TestAppSourceSettings(t *testing.T) {
	set, err := Parse(".ferry/apps.yaml", []byte(`apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: web}
spec:
  source:
    path: charts/web
    helm:
      releaseName: web
      namespace: web-ns
      valueFiles: [values-staging.yaml, ../shared/values.yaml]
      ignoreMissingValueFiles: true
      valuesObject:
        replicaCount: 2
        image: {tag: "1.2.3"}
      parameters:
        - {name: service.port, value: "8080"}
        - {name: image.tag, value: "1.2.4", forceString: true}
      skipCrds: true
      kubeVersion: "1.30.2"
      apiVersions: [monitoring.coreos.com/v1]
---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: guestbook}
spec:
  source:
    path: apps/guestbook
    directory:
      jsonnet:
        libs: [vendor]
        extVars: [{name: env, value: staging}, {name: debug, value: "true", code: true}]
        tlas: [{name: replicas, value: "2", code: true}]
---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: values-string}
spec:
  source:
    path: charts/web
    helm:
      values: |
        replicaCount: 3
`))
	if err != nil {
		t.Fatal(err)
	}
	web, _ := FindApp(set.Apps, "web")
	wantHelm := &Helm{ReleaseName: "web", Namespace: "web-ns", ValueFiles: []string{"values-staging.yaml", "../shared/values.yaml"},
		IgnoreMissingValueFiles: true, Values: "replicaCount: 2\nimage: {tag: \"1.2.3\"}\n",
		Parameters: []HelmParameter{{Name: "service.port", Value: "8080"}, {Name: "image.tag", Value: "1.2.4", ForceString: true}},
		SkipCRDs:   true, KubeVersion: "1.30.2", APIVersions: []string{"monitoring.coreos.com/v1"}}
	if !reflect.DeepEqual(web.Helm, wantHelm) {
		t.Errorf("helm = %+v\nwant %+v", web.Helm, wantHelm)
	}
	gb, _ := FindApp(set.Apps, "guestbook")
	wantJ := &Jsonnet{Libs: []string{"vendor"}, ExtVars: []JsonnetVar{{Name: "env", Value: "staging"}, {Name: "debug", Value: "true", Code: true}},
		TLAs: []JsonnetVar{{Name: "replicas", Value: "2", Code: true}}}
	if !reflect.DeepEqual(gb.Jsonnet, wantJ) || gb.Helm != nil {
		t.Errorf("jsonnet = %+v\nwant %+v", gb.Jsonnet, wantJ)
	}
	vs, _ := FindApp(set.Apps, "values-string")
	if vs.Helm == nil || vs.Helm.Values != "replicaCount: 3\n" {
		t.Errorf("values string = %+v", vs.Helm)
	}
}

func TestAppSourceSettingsErrors(t *testing.T) {
	_, err := Parse(".ferry/bad.yaml", []byte(`apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: bad}
spec:
  source:
    path: charts/web
    helm:
      releaseName: Not_A_Name
      valueFiles: [/etc/passwd, "https://example.com/v.yaml"]
      values: "a: [1"
      valuesObject: {a: 1}
      parameters: [{value: x}]
      skipCRDs: true
    jsonnet:
      main: ./x.jsonnet
      libs: [../outside]
      extVars: [{name: a, value: x}, {name: a, value: y}]
      tlas: notalist
`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`.ferry/bad.yaml:8: spec.source.helm.releaseName: invalid release name "Not_A_Name"`,
		`.ferry/bad.yaml:9: spec.source.helm.valueFiles[0]: invalid path "/etc/passwd"`,
		`.ferry/bad.yaml:9: spec.source.helm.valueFiles[1]: invalid path "https://example.com/v.yaml": only files of the repository are read`,
		`.ferry/bad.yaml:11: spec.source.helm.valuesObject: give values or valuesObject, not both`,
		`.ferry/bad.yaml:12: spec.source.helm.parameters[0].name`,
		`.ferry/bad.yaml:13: spec.source.helm.skipCRDs`,
		`.ferry/bad.yaml:15: spec.source.jsonnet.main: invalid path "./x.jsonnet"`,
		`.ferry/bad.yaml:16: spec.source.jsonnet.libs[0]: invalid path "../outside": it leaves the repository`,
		`.ferry/bad.yaml:17: spec.source.jsonnet.extVars[1].name: "a" is given twice`,
		`.ferry/bad.yaml:18: spec.source.jsonnet.tlas: must be a list`,
		`spec.source.helm: give helm or jsonnet settings, not both`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
