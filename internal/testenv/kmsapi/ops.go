package kmsapi

import (
	"crypto/rand"
	"encoding/json"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ferrygitops/ferry/internal/testenv/awsapi"
)

const (
	symmetricDefault = "SYMMETRIC_DEFAULT"
	maxPlaintext     = 4096
	maxCiphertext    = 6144
	maxGrantTokens   = 10
)

type tag struct {
	TagKey   *string `json:"TagKey"`
	TagValue *string `json:"TagValue"`
}

type recipientInfo struct {
	KeyEncryptionAlgorithm *string `json:"KeyEncryptionAlgorithm"`
	AttestationDocument    []byte  `json:"AttestationDocument"`
}

type keyMetadata struct {
	AWSAccountID          string              `json:"AWSAccountId"`
	KeyID                 string              `json:"KeyId"`
	Arn                   string              `json:"Arn"`
	CreationDate          awsapi.EpochSeconds `json:"CreationDate"`
	Enabled               bool                `json:"Enabled"`
	Description           string              `json:"Description"`
	KeyUsage              string              `json:"KeyUsage"`
	KeyState              string              `json:"KeyState"`
	Origin                string              `json:"Origin"`
	KeyManager            string              `json:"KeyManager"`
	CustomerMasterKeySpec string              `json:"CustomerMasterKeySpec"`
	KeySpec               string              `json:"KeySpec"`
	EncryptionAlgorithms  []string            `json:"EncryptionAlgorithms"`
	MultiRegion           bool                `json:"MultiRegion"`
	CurrentKeyMaterialID  string              `json:"CurrentKeyMaterialId"`
}

type keyMetadataOutput struct {
	KeyMetadata keyMetadata `json:"KeyMetadata"`
}

func (k *key) metadata() keyMetadata {
	state := "Enabled"
	if !k.enabled {
		state = "Disabled"
	}
	return keyMetadata{
		AWSAccountID:          k.account,
		KeyID:                 k.id,
		Arn:                   k.arn,
		CreationDate:          awsapi.EpochSeconds(k.created),
		Enabled:               k.enabled,
		Description:           k.description,
		KeyUsage:              string(types.KeyUsageTypeEncryptDecrypt),
		KeyState:              state,
		Origin:                string(types.OriginTypeAwsKms),
		KeyManager:            string(types.KeyManagerTypeCustomer),
		CustomerMasterKeySpec: symmetricDefault,
		KeySpec:               symmetricDefault,
		EncryptionAlgorithms:  []string{symmetricDefault},
		CurrentKeyMaterialID:  k.materialID,
	}
}

// enum checks that v, if set, is one of the model's values.
func enum[T ~string](member string, v *string, values []T) *awsapi.Error {
	if v == nil || slices.Contains(values, T(*v)) {
		return nil
	}
	names := make([]string, len(values))
	for i, x := range values {
		names[i] = string(x)
	}
	return awsapi.ValidationError("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", *v, member, strings.Join(names, ", "))
}

func unsupported(format string, args ...any) *awsapi.Error {
	return errorf("UnsupportedOperationException", "kmsapi emulates symmetric encryption keys of AWS_KMS origin only: "+format, args...)
}

// checkCrypto validates what Encrypt, Decrypt and GenerateDataKey share.
func checkCrypto(grantTokens []string, algorithm *string, recipient *recipientInfo) *awsapi.Error {
	if len(grantTokens) > maxGrantTokens {
		return awsapi.ValidationError("Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to %d", maxGrantTokens)
	}
	for _, t := range grantTokens {
		if len(t) < 1 || len(t) > 8192 {
			return awsapi.ValidationError("Value at 'grantTokens' failed to satisfy constraint: Member must have length between 1 and 8192")
		}
	}
	if err := enum("encryptionAlgorithm", algorithm, types.EncryptionAlgorithmSpec("").Values()); err != nil {
		return err
	}
	if algorithm != nil && *algorithm != symmetricDefault {
		return errorf("InvalidKeyUsageException", "The encryption algorithm %s is not supported by a symmetric encryption KMS key; use %s", *algorithm, symmetricDefault)
	}
	if recipient != nil {
		return unsupported("a Recipient (Nitro Enclaves attestation) is not supported")
	}
	return nil
}

// --- CreateKey ---

type createKeyInput struct {
	Policy                         *string `json:"Policy"`
	Description                    *string `json:"Description"`
	KeyUsage                       *string `json:"KeyUsage"`
	CustomerMasterKeySpec          *string `json:"CustomerMasterKeySpec"`
	KeySpec                        *string `json:"KeySpec"`
	Origin                         *string `json:"Origin"`
	CustomKeyStoreID               *string `json:"CustomKeyStoreId"`
	BypassPolicyLockoutSafetyCheck *bool   `json:"BypassPolicyLockoutSafetyCheck"`
	Tags                           []tag   `json:"Tags"`
	MultiRegion                    *bool   `json:"MultiRegion"`
	XksKeyID                       *string `json:"XksKeyId"`
}

func (s *Server) createKey(req awsapi.Request) (any, *awsapi.Error) {
	var in createKeyInput
	if err := awsapi.Decode(req.Body, &in); err != nil {
		return nil, err
	}
	for _, err := range []*awsapi.Error{
		enum("keyUsage", in.KeyUsage, types.KeyUsageType("").Values()),
		enum("keySpec", in.KeySpec, types.KeySpec("").Values()),
		enum("customerMasterKeySpec", in.CustomerMasterKeySpec, types.CustomerMasterKeySpec("").Values()),
		enum("origin", in.Origin, types.OriginType("").Values()),
	} {
		if err != nil {
			return nil, err
		}
	}
	if in.KeySpec != nil && in.CustomerMasterKeySpec != nil {
		return nil, awsapi.ValidationError("You cannot specify both KeySpec and CustomerMasterKeySpec; use KeySpec")
	}
	for member, v := range map[string]*string{"KeySpec": in.KeySpec, "CustomerMasterKeySpec": in.CustomerMasterKeySpec} {
		if v != nil && *v != symmetricDefault {
			return nil, unsupported("%s %s", member, *v)
		}
	}
	switch {
	case in.KeyUsage != nil && *in.KeyUsage != string(types.KeyUsageTypeEncryptDecrypt):
		return nil, unsupported("KeyUsage %s", *in.KeyUsage)
	case in.Origin != nil && *in.Origin != string(types.OriginTypeAwsKms):
		return nil, unsupported("Origin %s", *in.Origin)
	case in.CustomKeyStoreID != nil || in.XksKeyID != nil:
		return nil, unsupported("custom key stores")
	case in.MultiRegion != nil && *in.MultiRegion:
		return nil, unsupported("multi-Region keys")
	}
	description := ""
	if in.Description != nil {
		if len(*in.Description) > 8192 {
			return nil, awsapi.ValidationError("Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192")
		}
		description = *in.Description
	}
	if in.Policy != nil {
		var doc map[string]any
		if len(*in.Policy) < 1 || len(*in.Policy) > 131072 || json.Unmarshal([]byte(*in.Policy), &doc) != nil {
			return nil, errorf("MalformedPolicyDocumentException", "The new key policy is not a JSON policy document.")
		}
	}
	seen := map[string]bool{}
	for _, t := range in.Tags {
		switch {
		case t.TagKey == nil || t.TagValue == nil:
			return nil, awsapi.ValidationError("Value null at 'tags.member.tagKey' or 'tagValue' failed to satisfy constraint: Member must not be null")
		case len(*t.TagKey) < 1 || len(*t.TagKey) > 128 || len(*t.TagValue) > 256:
			return nil, awsapi.ValidationError("Value at 'tags.member' failed to satisfy constraint: TagKey must have length between 1 and 128, TagValue at most 256")
		case seen[*t.TagKey]:
			return nil, errorf("TagException", "Duplicate tag key %s", *t.TagKey)
		}
		seen[*t.TagKey] = true
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.newKey(req.Region, req.Account, description)
	k.tags = in.Tags
	return keyMetadataOutput{k.metadata()}, nil
}

// --- CreateAlias ---

type createAliasInput struct {
	AliasName   *string `json:"AliasName"`
	TargetKeyID *string `json:"TargetKeyId"`
}

func (s *Server) createAlias(req awsapi.Request) (any, *awsapi.Error) {
	var in createAliasInput
	if err := awsapi.Decode(req.Body, &in); err != nil {
		return nil, err
	}
	if in.AliasName == nil {
		return nil, awsapi.ValidationError("Value null at 'aliasName' failed to satisfy constraint: Member must not be null")
	}
	if in.TargetKeyID == nil {
		return nil, awsapi.ValidationError("Value null at 'targetKeyId' failed to satisfy constraint: Member must not be null")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.resolve(req, in.TargetKeyID, keyOnly)
	if err != nil {
		return nil, err
	}
	if k.account != req.Account {
		return nil, errorf("NotFoundException", "Key '%s' does not exist in the caller's account", k.arn)
	}
	if err := authorize(req, k); err != nil {
		return nil, err
	}
	if err := s.addAlias(req.Region, req.Account, *in.AliasName, k); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// --- DescribeKey, EnableKey, DisableKey ---

type describeKeyInput struct {
	KeyID       *string  `json:"KeyId"`
	GrantTokens []string `json:"GrantTokens"`
}

func (s *Server) describeKey(req awsapi.Request) (any, *awsapi.Error) {
	var in describeKeyInput
	if err := awsapi.Decode(req.Body, &in); err != nil {
		return nil, err
	}
	if err := checkCrypto(in.GrantTokens, nil, nil); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.authorized(req, in.KeyID, allowAlias)
	if err != nil {
		return nil, err
	}
	return keyMetadataOutput{k.metadata()}, nil
}

type keyIDInput struct {
	KeyID *string `json:"KeyId"`
}

func (s *Server) enableKey(req awsapi.Request) (any, *awsapi.Error)  { return s.setEnabled(req, true) }
func (s *Server) disableKey(req awsapi.Request) (any, *awsapi.Error) { return s.setEnabled(req, false) }

func (s *Server) setEnabled(req awsapi.Request, enabled bool) (any, *awsapi.Error) {
	var in keyIDInput
	if err := awsapi.Decode(req.Body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.authorized(req, in.KeyID, keyOnly)
	if err != nil {
		return nil, err
	}
	k.enabled = enabled
	return struct{}{}, nil
}

// --- Encrypt ---

type encryptInput struct {
	KeyID               *string           `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	GrantTokens         []string          `json:"GrantTokens"`
	EncryptionAlgorithm *string           `json:"EncryptionAlgorithm"`
	DryRun              *bool             `json:"DryRun"`
}

type encryptOutput struct {
	CiphertextBlob      []byte `json:"CiphertextBlob"`
	KeyID               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

func (s *Server) encrypt(req awsapi.Request) (any, *awsapi.Error) {
	var in encryptInput
	if err := awsapi.Decode(req.Body, &in); err != nil {
		return nil, err
	}
	if in.Plaintext == nil {
		return nil, awsapi.ValidationError("Value null at 'plaintext' failed to satisfy constraint: Member must not be null")
	}
	if len(in.Plaintext) < 1 || len(in.Plaintext) > maxPlaintext {
		return nil, awsapi.ValidationError("Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and %d", maxPlaintext)
	}
	if err := checkCrypto(in.GrantTokens, in.EncryptionAlgorithm, nil); err != nil {
		return nil, err
	}
	k, err := s.usableKey(req, in.KeyID, in.DryRun)
	if err != nil {
		return nil, err
	}
	return encryptOutput{CiphertextBlob: k.seal(in.Plaintext, in.EncryptionContext), KeyID: k.arn, EncryptionAlgorithm: symmetricDefault}, nil
}

// --- GenerateDataKey ---

type generateDataKeyInput struct {
	KeyID             *string           `json:"KeyId"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
	NumberOfBytes     *int              `json:"NumberOfBytes"`
	KeySpec           *string           `json:"KeySpec"`
	GrantTokens       []string          `json:"GrantTokens"`
	Recipient         *recipientInfo    `json:"Recipient"`
	DryRun            *bool             `json:"DryRun"`
}

type generateDataKeyOutput struct {
	CiphertextBlob []byte `json:"CiphertextBlob"`
	Plaintext      []byte `json:"Plaintext"`
	KeyID          string `json:"KeyId"`
	KeyMaterialID  string `json:"KeyMaterialId"`
}

func (s *Server) generateDataKey(req awsapi.Request) (any, *awsapi.Error) {
	var in generateDataKeyInput
	if err := awsapi.Decode(req.Body, &in); err != nil {
		return nil, err
	}
	if err := enum("keySpec", in.KeySpec, types.DataKeySpec("").Values()); err != nil {
		return nil, err
	}
	var size int
	switch {
	case (in.NumberOfBytes == nil) == (in.KeySpec == nil):
		return nil, awsapi.ValidationError("Please specify either number of bytes or key spec, not both")
	case in.NumberOfBytes != nil:
		if *in.NumberOfBytes < 1 || *in.NumberOfBytes > 1024 {
			return nil, awsapi.ValidationError("Value '%d' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024", *in.NumberOfBytes)
		}
		size = *in.NumberOfBytes
	case *in.KeySpec == string(types.DataKeySpecAes128):
		size = 16
	default:
		size = 32
	}
	if err := checkCrypto(in.GrantTokens, nil, in.Recipient); err != nil {
		return nil, err
	}
	k, err := s.usableKey(req, in.KeyID, in.DryRun)
	if err != nil {
		return nil, err
	}
	plaintext := make([]byte, size)
	_, _ = rand.Read(plaintext)
	return generateDataKeyOutput{
		CiphertextBlob: k.seal(plaintext, in.EncryptionContext),
		Plaintext:      plaintext,
		KeyID:          k.arn,
		KeyMaterialID:  k.materialID,
	}, nil
}

// --- Decrypt ---

type decryptInput struct {
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	GrantTokens         []string          `json:"GrantTokens"`
	KeyID               *string           `json:"KeyId"`
	EncryptionAlgorithm *string           `json:"EncryptionAlgorithm"`
	Recipient           *recipientInfo    `json:"Recipient"`
	DryRun              *bool             `json:"DryRun"`
	DryRunModifiers     []string          `json:"DryRunModifiers"`
}

type decryptOutput struct {
	KeyID               string `json:"KeyId"`
	Plaintext           []byte `json:"Plaintext"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
	KeyMaterialID       string `json:"KeyMaterialId"`
}

func invalidCiphertext() *awsapi.Error {
	return errorf("InvalidCiphertextException", "The ciphertext is invalid, or was not encrypted under this KMS key with this encryption context.")
}

func (s *Server) decrypt(req awsapi.Request) (any, *awsapi.Error) {
	var in decryptInput
	if err := awsapi.Decode(req.Body, &in); err != nil {
		return nil, err
	}
	for _, m := range in.DryRunModifiers {
		if err := enum("dryRunModifiers", &m, types.DryRunModifierType("").Values()); err != nil {
			return nil, err
		}
	}
	if err := checkCrypto(in.GrantTokens, in.EncryptionAlgorithm, in.Recipient); err != nil {
		return nil, err
	}
	dry := in.DryRun != nil && *in.DryRun
	if dry && slices.Contains(in.DryRunModifiers, string(types.DryRunModifierTypeIgnoreCiphertext)) {
		// Authorization only: the key must be named.
		_, err := s.usableKey(req, in.KeyID, in.DryRun)
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.CiphertextBlob == nil {
		return nil, awsapi.ValidationError("Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null")
	}
	if len(in.CiphertextBlob) < 1 || len(in.CiphertextBlob) > maxCiphertext {
		return nil, awsapi.ValidationError("Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and %d", maxCiphertext)
	}
	arn, ok := blobKeyARN(in.CiphertextBlob)
	if !ok {
		return nil, invalidCiphertext()
	}
	k := s.keyByIDOrARN(arn)
	if k == nil || k.region != req.Region {
		return nil, invalidCiphertext()
	}
	if in.KeyID != nil {
		named, err := s.resolve(req, in.KeyID, allowAlias)
		if err != nil {
			return nil, err
		}
		if named != k {
			return nil, errorf("IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")
		}
	}
	if err := usable(req, k); err != nil {
		return nil, err
	}
	plaintext, err := k.open(in.CiphertextBlob, in.EncryptionContext)
	if err != nil {
		return nil, invalidCiphertext()
	}
	if dry {
		return nil, errDryRun()
	}
	return decryptOutput{KeyID: k.arn, Plaintext: plaintext, EncryptionAlgorithm: symmetricDefault, KeyMaterialID: k.materialID}, nil
}
