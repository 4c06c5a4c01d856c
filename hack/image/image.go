package main

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// Where things are in the image.
const (
	binaryPath = "/usr/local/bin/ferry"
	caFile     = "/etc/ssl/certs/ca-certificates.crt"
	homeDir    = "/home/nonroot"
	nonRoot    = 65532 // distroless's "nonroot": the uid the install's pods run as
)

// OCI annotation keys, used as image labels and index annotations.
const (
	labelSource   = "org.opencontainers.image.source"
	labelRevision = "org.opencontainers.image.revision"
	labelVersion  = "org.opencontainers.image.version"
	labelCreated  = "org.opencontainers.image.created"
	labelTitle    = "org.opencontainers.image.title"
)

// Platform is one image of the index: a platform and its static binary.
type Platform struct {
	OS, Arch string
	Binary   []byte
}

// Spec is everything an image index is made of; the same Spec always
// gives the same digest.
type Spec struct {
	Platforms []Platform
	Source    string    // repository URL (org.opencontainers.image.source)
	Revision  string    // git commit
	Version   string    // ferry version
	Created   time.Time // SOURCE_DATE_EPOCH: every timestamp in the image
}

// Build assembles the image index: per platform, an OCI image of two
// layers on nothing (no base image), the same first layer for every
// platform (passwd and group with the non-root user 65532, its home, /tmp,
// CA certificates) and the binary as the second, run as 65532.
func Build(spec Spec) (v1.ImageIndex, error) {
	if len(spec.Platforms) == 0 {
		return nil, fmt.Errorf("no platform to build")
	}
	labels := map[string]string{
		labelSource:   spec.Source,
		labelRevision: spec.Revision,
		labelVersion:  spec.Version,
		labelCreated:  spec.Created.UTC().Format(time.RFC3339),
		labelTitle:    "ferry",
	}
	base, err := baseLayer(spec.Created)
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range spec.Platforms {
		bin, err := layer(spec.Created, []entry{{path: binaryPath, mode: 0o755, data: p.Binary}})
		if err != nil {
			return nil, err
		}
		img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		img, err = mutate.Append(img,
			mutate.Addendum{Layer: base, History: v1.History{Created: v1.Time{Time: spec.Created}, CreatedBy: "ferry hack/image: passwd, group, CA certificates", Comment: "base"}},
			mutate.Addendum{Layer: bin, History: v1.History{Created: v1.Time{Time: spec.Created}, CreatedBy: "ferry hack/image: go build ./cmd/ferry (CGO_ENABLED=0)"}},
		)
		if err != nil {
			return nil, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = p.OS, p.Arch
		cf.Created = v1.Time{Time: spec.Created}
		cf.Config = v1.Config{
			User:       fmt.Sprintf("%d:%d", nonRoot, nonRoot),
			Entrypoint: []string{binaryPath},
			WorkingDir: homeDir,
			Env: []string{
				"PATH=/usr/local/bin:/usr/bin:/bin",
				"HOME=" + homeDir,
				"SSL_CERT_FILE=" + caFile,
			},
			Labels: labels,
		}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch},
		}})
	}
	return mutate.Annotations(idx, labels).(v1.ImageIndex), nil
}

// entry is one file or directory of a layer.
type entry struct {
	path     string
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

// baseLayer holds what a static Go binary expects of a Linux system.
func baseLayer(created time.Time) (v1.Layer, error) {
	certs, err := caBundle()
	if err != nil {
		return nil, err
	}
	return layer(created, []entry{
		{path: "/etc", dir: true, mode: 0o755},
		{path: "/etc/passwd", mode: 0o644, data: fmt.Appendf(nil,
			"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%[1]d:%[1]d:nonroot:%[2]s:/sbin/nologin\n", nonRoot, homeDir)},
		{path: "/etc/group", mode: 0o644, data: fmt.Appendf(nil, "root:x:0:\nnonroot:x:%d:\n", nonRoot)},
		{path: "/etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{path: "/etc/ssl", dir: true, mode: 0o755},
		{path: "/etc/ssl/certs", dir: true, mode: 0o755},
		{path: caFile, mode: 0o644, data: certs},
		{path: "/home", dir: true, mode: 0o755},
		{path: homeDir, dir: true, mode: 0o700, uid: nonRoot, gid: nonRoot},
		{path: "/tmp", dir: true, mode: 0o1777},
		{path: "/usr", dir: true, mode: 0o755},
		{path: "/usr/local", dir: true, mode: 0o755},
		{path: "/usr/local/bin", dir: true, mode: 0o755},
	})
}

// caBundle is Mozilla's root store as the Go project packages it
// (golang.org/x/crypto/x509roots/fallback/bundle, pinned by go.sum), in
// PEM: the same bytes on every build machine, unlike a copy of the
// machine's /etc/ssl/certs. Roots that NSS constrains beyond what X.509
// can say (distrusted after a date) are left out.
func caBundle() ([]byte, error) {
	var b bytes.Buffer
	n := 0
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		if err := pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, err
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("the CA bundle is empty")
	}
	return b.Bytes(), nil
}

// layer writes entries, sorted by path, as a tar with every time set to
// created and no user or group names, and makes an OCI layer of it:
// the same entries always give the same digest.
func layer(created time.Time, entries []entry) (v1.Layer, error) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].path < entries[j].path })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:    e.path[1:],
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: created.UTC(),
			Format:  tar.FormatPAX,
		}
		if e.dir {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", e.path, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", e.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
