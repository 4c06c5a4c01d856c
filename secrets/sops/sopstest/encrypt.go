package sopstest

import (
	"crypto/rand"
	"fmt"
	"path"
	"time"

	gosops "github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/keyservice"
	sopskms "github.com/getsops/sops/v3/kms"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
)

// Options say how to encrypt.
type Options struct {
	// EncryptedRegex encrypts only the values under keys matching it
	// (sops --encrypted-regex); "" encrypts every value.
	EncryptedRegex string
	// Age recipients ("age1...") and KMS key ARNs, all in one key group.
	Age []string
	KMS []string
	// KMSContext is the encryption context of the KMS keys.
	KMSContext map[string]string
}

type store interface {
	LoadPlainFile(in []byte) (gosops.TreeBranches, error)
	EmitEncryptedFile(in gosops.Tree) ([]byte, error)
}

// Encrypt returns plain, a YAML or JSON document named name, encrypted as
// `sops encrypt` does.
func Encrypt(name string, plain []byte, o Options) ([]byte, error) {
	var st store = sopsyaml.NewStore(&config.YAMLStoreConfig{})
	if path.Ext(name) == ".json" {
		st = sopsjson.NewStore(&config.JSONStoreConfig{})
	}
	branches, err := st.LoadPlainFile(plain)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var group gosops.KeyGroup
	for _, r := range o.Age {
		k, err := sopsage.MasterKeyFromRecipient(r)
		if err != nil {
			return nil, err
		}
		group = append(group, k)
	}
	for _, a := range o.KMS {
		ctx := map[string]*string{}
		for k, v := range o.KMSContext {
			ctx[k] = &v
		}
		if len(ctx) == 0 {
			ctx = nil
		}
		group = append(group, sopskms.NewMasterKeyFromArn(a, ctx, ""))
	}
	tree := gosops.Tree{Branches: branches, Metadata: gosops.Metadata{
		KeyGroups:      []gosops.KeyGroup{group},
		EncryptedRegex: o.EncryptedRegex,
		Version:        "3.13.3",
	}}
	dataKey := make([]byte, 32)
	if _, err := rand.Read(dataKey); err != nil {
		return nil, err
	}
	if errs := tree.Metadata.UpdateMasterKeysWithKeyServices(dataKey, []keyservice.KeyServiceClient{keyservice.NewLocalClient()}); len(errs) > 0 {
		return nil, fmt.Errorf("encrypting the data key: %v", errs)
	}
	cipher := aes.NewCipher()
	tree.Metadata.LastModified = time.Now().UTC()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		return nil, err
	}
	if tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339)); err != nil {
		return nil, err
	}
	return st.EmitEncryptedFile(tree)
}

var _ keys.MasterKey = (*sopsage.MasterKey)(nil)
