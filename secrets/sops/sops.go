package sops

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	gosops "github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/logging"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
)

func init() {
	// SOPS's key sources log every decryption at Info level on stderr;
	// Ferry reports failures itself, in its own log.
	logging.SetLevel(logrus.WarnLevel)
}

// Options configure a Decrypter.
type Options struct {
	// AgeIdentities decrypt files encrypted for their recipients.
	AgeIdentities []age.Identity
	// AWS returns the configuration of the KMS client (credentials,
	// retries), called when a file names a KMS key; nil: files encrypted
	// only for KMS keys cannot be decrypted. The region is the key ARN's.
	AWS func(context.Context) (*aws.Config, error)
	// KMSEndpoint overrides the KMS endpoint (an emulator); "" uses the
	// AWS configuration's resolution (BaseEndpoint, AWS_ENDPOINT_URL_KMS,
	// or the regional endpoint).
	KMSEndpoint string
}

// Decrypter decrypts SOPS files with the keys it was given. It is safe for
// concurrent use.
type Decrypter struct {
	ids        sopsage.ParsedIdentities
	recipients []string
	aws        func(context.Context) (*aws.Config, error)
	endpoint   string
}

// New returns a Decrypter.
func New(o Options) *Decrypter {
	d := &Decrypter{ids: sopsage.ParsedIdentities(slices.Clone(o.AgeIdentities)), aws: o.AWS, endpoint: o.KMSEndpoint}
	for _, id := range o.AgeIdentities {
		if x, ok := id.(*age.X25519Identity); ok {
			d.recipients = append(d.recipients, x.Recipient().String())
		}
	}
	return d
}

// ParseAgeIdentities parses age identities, one per line ("#" comments and
// blank lines ignored), as age-keygen writes them. Errors name the line of
// src, never its content.
func ParseAgeIdentities(src string, data []byte) ([]age.Identity, error) {
	var out []age.Identity
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, err := age.ParseX25519Identity(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: not an age identity (AGE-SECRET-KEY-1...)", src, i+1)
		}
		out = append(out, id)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no age identity", src)
	}
	return out, nil
}

// Encrypted reports whether data, the content of file name, is a SOPS
// document: a YAML or JSON file whose top level holds sops metadata.
func Encrypted(name string, data []byte) bool {
	if formatOf(name) == "" || !bytes.Contains(data, []byte("sops")) || !bytes.Contains(data, []byte("lastmodified")) {
		return false
	}
	_, err := load(name, data)
	return !errors.Is(err, gosops.MetadataNotFound)
}

type store interface {
	LoadEncryptedFile(in []byte) (gosops.Tree, error)
	EmitPlainFile(in gosops.TreeBranches) ([]byte, error)
}

func formatOf(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml":
		return "yaml"
	case ".json":
		return "json"
	}
	return ""
}

func storeFor(name string) store {
	if formatOf(name) == "json" {
		return sopsjson.NewStore(&config.JSONStoreConfig{})
	}
	return sopsyaml.NewStore(&config.YAMLStoreConfig{})
}

func load(name string, data []byte) (gosops.Tree, error) {
	return storeFor(name).LoadEncryptedFile(data)
}

// Decrypt returns the clear text of data, the content of file name (used
// for its format and in errors), and whether it was a SOPS document at
// all; a file without SOPS metadata is returned as it is. The clear text
// is only returned: never logged, never written, never part of an error.
func (d *Decrypter) Decrypt(ctx context.Context, name string, data []byte) ([]byte, bool, error) {
	if !Encrypted(name, data) {
		return data, false, nil
	}
	st := storeFor(name)
	tree, err := st.LoadEncryptedFile(data)
	if err != nil {
		return nil, true, fmt.Errorf("%s: reading sops metadata: %w", name, err)
	}
	svc := &keyService{ctx: ctx, d: d}
	key, err := tree.Metadata.GetDataKeyWithKeyServices([]keyservice.KeyServiceClient{svc}, nil)
	if err != nil {
		return nil, true, fmt.Errorf("%s: cannot decrypt: no key given to Ferry opens it; it was encrypted for %s (%s)",
			name, strings.Join(expected(tree.Metadata), ", "), svc.why())
	}
	cipher := aes.NewCipher()
	mac, err := tree.Decrypt(key, cipher)
	if err != nil {
		// SOPS's errors name the path of the value, not the value.
		return nil, true, fmt.Errorf("%s: decrypting values: %w", name, err)
	}
	orig, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, key, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil || orig != mac {
		return nil, true, fmt.Errorf("%s: sops integrity check failed: the file was changed after it was encrypted (the MAC does not match)", name)
	}
	out, err := st.EmitPlainFile(tree.Branches)
	if err != nil {
		return nil, true, fmt.Errorf("%s: writing the decrypted document: %w", name, err)
	}
	return out, true, nil
}

// expected lists the keys a file was encrypted for: "age:RECIPIENT",
// "kms:ARN", and so on, per key group.
func expected(m gosops.Metadata) []string {
	var out []string
	for _, g := range m.KeyGroups {
		for _, k := range g {
			out = append(out, k.TypeToIdentifier()+" "+k.ToString())
		}
	}
	if len(out) == 0 {
		out = []string{"no key"}
	}
	return out
}

// keyService is SOPS's key service for one decryption: age with the
// Decrypter's identities, AWS KMS through Ferry's SDK client.
type keyService struct {
	ctx     context.Context
	d       *Decrypter
	reasons []string
}

var _ keyservice.KeyServiceClient = (*keyService)(nil)

func (k *keyService) why() string {
	if len(k.reasons) == 0 {
		return "no key tried"
	}
	return strings.Join(slices.Compact(k.reasons), "; ")
}

func (k *keyService) fail(format string, args ...any) (*keyservice.DecryptResponse, error) {
	err := fmt.Errorf(format, args...)
	k.reasons = append(k.reasons, err.Error())
	return nil, err
}

func (k *keyService) Encrypt(context.Context, *keyservice.EncryptRequest, ...grpc.CallOption) (*keyservice.EncryptResponse, error) {
	return nil, errors.New("ferry only decrypts")
}

func (k *keyService) Decrypt(_ context.Context, req *keyservice.DecryptRequest, _ ...grpc.CallOption) (*keyservice.DecryptResponse, error) {
	switch key := req.Key.KeyType.(type) {
	case *keyservice.Key_AgeKey:
		if len(k.d.ids) == 0 {
			return k.fail("age: no age identity is configured")
		}
		mk := &sopsage.MasterKey{Recipient: key.AgeKey.Recipient, EncryptedKey: string(req.Ciphertext)}
		k.d.ids.ApplyToMasterKey(mk)
		plain, err := mk.Decrypt()
		if err != nil {
			return k.fail("age: the configured identities (recipients %s) do not match", strings.Join(k.d.recipients, ", "))
		}
		return &keyservice.DecryptResponse{Plaintext: plain}, nil
	case *keyservice.Key_KmsKey:
		plain, err := k.d.kmsDecrypt(k.ctx, key.KmsKey, req.Ciphertext)
		if err != nil {
			return k.fail("kms %s: %v", key.KmsKey.Arn, err)
		}
		return &keyservice.DecryptResponse{Plaintext: plain}, nil
	case *keyservice.Key_PgpKey:
		return k.fail("pgp keys are not supported (age and AWS KMS are)")
	case *keyservice.Key_GcpKmsKey:
		return k.fail("GCP KMS keys are not supported (age and AWS KMS are)")
	case *keyservice.Key_AzureKeyvaultKey:
		return k.fail("Azure Key Vault keys are not supported (age and AWS KMS are)")
	case *keyservice.Key_VaultKey:
		return k.fail("HashiCorp Vault keys are not supported (age and AWS KMS are)")
	default:
		return k.fail("%T keys are not supported (age and AWS KMS are)", key)
	}
}

// kmsDecrypt decrypts a SOPS data key with AWS KMS.
//
// SOPS's own KMS key source (sops/v3/kms) is not used: it loads a new AWS
// configuration from the process environment for every key and offers no
// way to set the endpoint (its baseEndpoint field is unexported), so
// neither Ferry's configured endpoint override nor its single, shared AWS
// configuration could reach it. The call is the one SOPS makes: Decrypt
// with the key ARN, the base64-decoded data key and the encryption context
// stored in the file's metadata. A per-key role (arn+role) is not assumed:
// Ferry uses its own identity.
func (d *Decrypter) kmsDecrypt(ctx context.Context, key *keyservice.KmsKey, ciphertext []byte) ([]byte, error) {
	if d.aws == nil {
		return nil, errors.New("no AWS configuration is given to Ferry")
	}
	cfg, err := d.aws(ctx)
	if err != nil {
		return nil, err
	}
	a, err := arn.Parse(key.Arn)
	if err != nil {
		return nil, fmt.Errorf("not a KMS key ARN: %w", err)
	}
	blob, err := base64.StdEncoding.DecodeString(string(ciphertext))
	if err != nil {
		return nil, fmt.Errorf("the encrypted data key is not base64: %w", err)
	}
	client := kms.NewFromConfig(*cfg, func(o *kms.Options) {
		o.Region = a.Region
		if d.endpoint != "" {
			o.BaseEndpoint = aws.String(d.endpoint)
		}
	})
	var ec map[string]string
	if len(key.Context) > 0 {
		ec = key.Context
	}
	out, err := client.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(key.Arn), CiphertextBlob: blob, EncryptionContext: ec})
	if err != nil {
		return nil, err
	}
	return out.Plaintext, nil
}
