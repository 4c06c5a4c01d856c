// Package install holds no Go code: the directory is Ferry's installation
// for Kubernetes (kustomize; see README.md), and its tests apply it to a
// real API server and run Ferry with the service account it creates.
package install
