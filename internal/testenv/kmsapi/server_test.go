package kmsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ferrygitops/ferry/internal/testenv/awsapi"
)

// client is a real KMS SDK client of srv, signing for region with creds,
// making at most attempts attempts per call.
func client(srv *Server, region string, creds awsapi.Credentials, attempts int) *kms.Client {
	return kms.NewFromConfig(srv.ClientConfig(region, creds, attempts))
}

func status(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

var (
	ctx      = context.Background()
	keyARN   = regexp.MustCompile(`^arn:aws:kms:us-east-1:123456789012:key/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	dataKey  = []byte("0123456789abcdef0123456789abcdef")
	sopsCtx  = map[string]string{"app": "web", "env": "prod"}
	otherCtx = map[string]string{"app": "web", "env": "staging"}
)

func TestKeysAndAliasesThroughSDK(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	c := client(srv, DefaultRegion, srv.Credentials(), 1)

	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{
		Description: aws.String("sops"),
		Tags:        []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("platform")}},
		Policy:      aws.String(`{"Version":"2012-10-17","Statement":[]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	md := created.KeyMetadata
	if !keyARN.MatchString(*md.Arn) || !strings.HasSuffix(*md.Arn, "/"+*md.KeyId) || *md.AWSAccountId != DefaultAccount ||
		md.KeyState != types.KeyStateEnabled || !md.Enabled || md.KeySpec != types.KeySpecSymmetricDefault ||
		md.KeyUsage != types.KeyUsageTypeEncryptDecrypt || md.KeyManager != types.KeyManagerTypeCustomer ||
		md.Origin != types.OriginTypeAwsKms || *md.Description != "sops" || time.Since(*md.CreationDate) > time.Minute ||
		len(md.EncryptionAlgorithms) != 1 || len(*md.CurrentKeyMaterialId) != 64 {
		t.Fatalf("metadata = %+v", md)
	}
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/sops/prod"), TargetKeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	aliasARN := "arn:aws:kms:us-east-1:123456789012:alias/sops/prod"
	if srv.AliasARN("", "", "alias/sops/prod") != aliasARN {
		t.Errorf("AliasARN = %s", srv.AliasARN("", "", "alias/sops/prod"))
	}
	for _, ref := range []string{*md.KeyId, *md.Arn, "alias/sops/prod", aliasARN} {
		out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
		if err != nil || *out.KeyMetadata.Arn != *md.Arn {
			t.Errorf("DescribeKey(%s): %v", ref, err)
		}
	}

	// Keys are per region: the same id is not found from eu-west-1, and an
	// ARN must name the request's region.
	eu := client(srv, "eu-west-1", srv.Credentials(), 1)
	for _, ref := range []string{*md.KeyId, *md.Arn, "alias/sops/prod", aliasARN} {
		_, err := eu.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
		var nf *types.NotFoundException
		if !errors.As(err, &nf) || status(err) != 404 {
			t.Errorf("eu-west-1 DescribeKey(%s): %v", ref, err)
		}
	}
	for name, ref := range map[string]string{
		"missing key":   "0b1e6c2a-7f41-4c3e-9a43-5d1b2c3d4e5f",
		"malformed id":  "not-a-key",
		"missing alias": "alias/nope",
		"other service": "arn:aws:s3:us-east-1:123456789012:key/" + *md.KeyId,
		"bad resource":  "arn:aws:kms:us-east-1:123456789012:grant/x",
		"other account": "arn:aws:kms:us-east-1:999999999999:key/" + *md.KeyId,
	} {
		_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
		var nf *types.NotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("0b1e6c2a-7f41-4c3e-9a43-5d1b2c3d4e5f")})
	if !strings.Contains(err.Error(), "arn:aws:kms:us-east-1:123456789012:key/0b1e6c2a-7f41-4c3e-9a43-5d1b2c3d4e5f' does not exist") {
		t.Errorf("message: %v", err)
	}

	// Aliases: unique, well formed, not AWS's, pointing at a key by id or ARN only.
	for name, tc := range map[string]struct {
		alias, target, code string
	}{
		"duplicate":    {"alias/sops/prod", *md.KeyId, "AlreadyExistsException"},
		"no prefix":    {"sops", *md.KeyId, "InvalidAliasNameException"},
		"bad char":     {"alias/a b", *md.KeyId, "InvalidAliasNameException"},
		"reserved":     {"alias/aws/s3", *md.KeyId, "InvalidAliasNameException"},
		"alias target": {"alias/other", "alias/sops/prod", "NotFoundException"},
		"no key":       {"alias/other", "0b1e6c2a-7f41-4c3e-9a43-5d1b2c3d4e5f", "NotFoundException"},
	} {
		_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(tc.alias), TargetKeyId: aws.String(tc.target)})
		if got := awsapi.ErrorCode(err); got != tc.code {
			t.Errorf("%s: %s (%v), want %s", name, got, err, tc.code)
		}
	}

	// What the emulator does not do, it refuses.
	for name, in := range map[string]*kms.CreateKeyInput{
		"asymmetric":   {KeySpec: types.KeySpecRsa2048},
		"hmac":         {KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac},
		"multi-region": {MultiRegion: aws.Bool(true)},
		"external":     {Origin: types.OriginTypeExternal},
	} {
		_, err := c.CreateKey(ctx, in)
		var unsupported *types.UnsupportedOperationException
		if !errors.As(err, &unsupported) {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String("not json")})
	var malformed *types.MalformedPolicyDocumentException
	if !errors.As(err, &malformed) {
		t.Errorf("policy: %v", err)
	}
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{Tags: []types.Tag{{TagKey: aws.String("a"), TagValue: aws.String("1")}, {TagKey: aws.String("a"), TagValue: aws.String("2")}}})
	var tagErr *types.TagException
	if !errors.As(err, &tagErr) {
		t.Errorf("duplicate tag: %v", err)
	}
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpec("AES_512")})
	if awsapi.ErrorCode(err) != "ValidationException" {
		t.Errorf("unknown key spec: %v", err)
	}
}

func TestEncryptDecryptAsSOPSDoes(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	k := srv.CreateKey(KeyOptions{Aliases: []string{"alias/sops"}})
	other := srv.CreateKey(KeyOptions{})
	c := client(srv, DefaultRegion, srv.Credentials(), 1)
	aliasARN := srv.AliasARN("", "", "alias/sops")

	// SOPS: Encrypt{KeyId: ARN, Plaintext, EncryptionContext}, then
	// Decrypt{KeyId: ARN, CiphertextBlob, EncryptionContext}; the context is
	// always sent, {} when the file has none.
	for _, ref := range []string{k.ARN, aliasARN, k.ID, "alias/sops"} {
		for _, ec := range []map[string]string{sopsCtx, {}} {
			enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(ref), Plaintext: dataKey, EncryptionContext: ec})
			if err != nil {
				t.Fatalf("Encrypt(%s): %v", ref, err)
			}
			if *enc.KeyId != k.ARN || enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault ||
				bytes.Contains(enc.CiphertextBlob, dataKey) || len(enc.CiphertextBlob) < len(dataKey)+28 {
				t.Fatalf("Encrypt(%s) = %s %s %x", ref, *enc.KeyId, enc.EncryptionAlgorithm, enc.CiphertextBlob)
			}
			dec, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(ref), CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
			if err != nil || !bytes.Equal(dec.Plaintext, dataKey) || *dec.KeyId != k.ARN || len(*dec.KeyMaterialId) != 64 {
				t.Fatalf("Decrypt(%s, %v): %v", ref, ec, err)
			}
		}
	}

	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(k.ARN), Plaintext: dataKey, EncryptionContext: sopsCtx})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(k.ARN), Plaintext: dataKey, EncryptionContext: sopsCtx})
	if bytes.Equal(enc.CiphertextBlob, again.CiphertextBlob) {
		t.Error("two encryptions of one plaintext are equal")
	}
	// The blob names its key: Decrypt needs no KeyId.
	if dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: sopsCtx}); err != nil || !bytes.Equal(dec.Plaintext, dataKey) {
		t.Fatalf("Decrypt without KeyId: %v", err)
	}

	tampered := func(i int) []byte {
		b := bytes.Clone(enc.CiphertextBlob)
		b[i] ^= 1
		return b
	}
	for name, in := range map[string]*kms.DecryptInput{
		"other context":     {CiphertextBlob: enc.CiphertextBlob, EncryptionContext: otherCtx},
		"no context":        {CiphertextBlob: enc.CiphertextBlob},
		"empty context":     {CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{}},
		"extra pair":        {CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"app": "web", "env": "prod", "x": "y"}},
		"tampered sealed":   {CiphertextBlob: tampered(len(enc.CiphertextBlob) - 1), EncryptionContext: sopsCtx},
		"tampered nonce":    {CiphertextBlob: tampered(len(enc.CiphertextBlob) - 16 - len(dataKey) - 1), EncryptionContext: sopsCtx},
		"tampered key name": {CiphertextBlob: tampered(10), EncryptionContext: sopsCtx},
		"truncated":         {CiphertextBlob: enc.CiphertextBlob[:20], EncryptionContext: sopsCtx},
		"garbage":           {CiphertextBlob: []byte("definitely not a blob"), EncryptionContext: sopsCtx},
	} {
		_, err := c.Decrypt(ctx, in)
		var ic *types.InvalidCiphertextException
		if !errors.As(err, &ic) || status(err) != 400 {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A KeyId that is not the blob's key.
	_, err = c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(other.ARN), CiphertextBlob: enc.CiphertextBlob, EncryptionContext: sopsCtx})
	var ik *types.IncorrectKeyException
	if !errors.As(err, &ik) {
		t.Errorf("other key: %v", err)
	}
	// Another region's KMS cannot open the blob.
	_, err = client(srv, "us-west-2", srv.Credentials(), 1).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: sopsCtx})
	var ic *types.InvalidCiphertextException
	if !errors.As(err, &ic) {
		t.Errorf("other region: %v", err)
	}

	// Parameters.
	for name, tc := range map[string]struct {
		in   *kms.EncryptInput
		code string
	}{
		"too long":      {&kms.EncryptInput{KeyId: aws.String(k.ID), Plaintext: make([]byte, 4097)}, "ValidationException"},
		"asymmetric":    {&kms.EncryptInput{KeyId: aws.String(k.ID), Plaintext: dataKey, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256}, "InvalidKeyUsageException"},
		"bad algorithm": {&kms.EncryptInput{KeyId: aws.String(k.ID), Plaintext: dataKey, EncryptionAlgorithm: "ROT13"}, "ValidationException"},
		"dry run":       {&kms.EncryptInput{KeyId: aws.String(k.ID), Plaintext: dataKey, DryRun: aws.Bool(true)}, "DryRunOperationException"},
		"grant tokens":  {&kms.EncryptInput{KeyId: aws.String(k.ID), Plaintext: dataKey, GrantTokens: make([]string, 11)}, "ValidationException"},
	} {
		_, err := c.Encrypt(ctx, tc.in)
		if got := awsapi.ErrorCode(err); got != tc.code {
			t.Errorf("%s: %s (%v), want %s", name, got, err, tc.code)
		}
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: sopsCtx, DryRun: aws.Bool(true)})
	var dry *types.DryRunOperationException
	if !errors.As(err, &dry) || status(err) != 412 {
		t.Errorf("Decrypt dry run: %v", err)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(k.ARN), DryRun: aws.Bool(true), DryRunModifiers: []types.DryRunModifierType{types.DryRunModifierTypeIgnoreCiphertext}})
	if !errors.As(err, &dry) {
		t.Errorf("Decrypt dry run ignoring the ciphertext: %v", err)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: sopsCtx,
		Recipient: &types.RecipientInfo{AttestationDocument: []byte("doc"), KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256}})
	var unsupported *types.UnsupportedOperationException
	if !errors.As(err, &unsupported) {
		t.Errorf("Recipient: %v", err)
	}
	if st := srv.Stats(OpDecrypt); st.Errors != 14 || st.OK != 9 {
		t.Errorf("Decrypt stats = %+v", st)
	}
}

func TestGenerateDataKey(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	k := srv.CreateKey(KeyOptions{})
	c := client(srv, DefaultRegion, srv.Credentials(), 1)
	for spec, size := range map[types.DataKeySpec]int{types.DataKeySpecAes256: 32, types.DataKeySpecAes128: 16} {
		out, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.ARN), KeySpec: spec, EncryptionContext: sopsCtx})
		if err != nil || len(out.Plaintext) != size || *out.KeyId != k.ARN {
			t.Fatalf("%s: %v %+v", spec, err, out)
		}
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: sopsCtx})
		if err != nil || !bytes.Equal(dec.Plaintext, out.Plaintext) {
			t.Fatalf("%s: the data key does not decrypt to its plaintext: %v", spec, err)
		}
		if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: otherCtx}); awsapi.ErrorCode(err) != "InvalidCiphertextException" {
			t.Errorf("%s: other context: %v", spec, err)
		}
	}
	out, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.ID), NumberOfBytes: aws.Int32(64)})
	if err != nil || len(out.Plaintext) != 64 {
		t.Fatalf("64 bytes: %v", err)
	}
	for name, in := range map[string]*kms.GenerateDataKeyInput{
		"neither":  {KeyId: aws.String(k.ID)},
		"both":     {KeyId: aws.String(k.ID), NumberOfBytes: aws.Int32(32), KeySpec: types.DataKeySpecAes256},
		"too many": {KeyId: aws.String(k.ID), NumberOfBytes: aws.Int32(1025)},
		"zero":     {KeyId: aws.String(k.ID), NumberOfBytes: aws.Int32(0)},
		"bad spec": {KeyId: aws.String(k.ID), KeySpec: "AES_512"},
	} {
		_, err := c.GenerateDataKey(ctx, in)
		if got := awsapi.ErrorCode(err); got != "ValidationException" {
			t.Errorf("%s: %s (%v)", name, got, err)
		}
	}
}

func TestDisabledKey(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	k := srv.CreateKey(KeyOptions{})
	c := client(srv, DefaultRegion, srv.Credentials(), 1)
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(k.ID), Plaintext: dataKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(k.ARN)}); err != nil {
		t.Fatal(err)
	}
	disabled := func(name string, err error) {
		t.Helper()
		var de *types.DisabledException
		if !errors.As(err, &de) || status(err) != 409 || !strings.Contains(err.Error(), k.ARN+" is disabled") {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(k.ID), Plaintext: dataKey})
	disabled("Encrypt", err)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	disabled("Decrypt", err)
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.ID), KeySpec: types.DataKeySpecAes256})
	disabled("GenerateDataKey", err)
	out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(k.ID)})
	if err != nil || out.KeyMetadata.KeyState != types.KeyStateDisabled || out.KeyMetadata.Enabled {
		t.Fatalf("DescribeKey of a disabled key: %v %+v", err, out)
	}
	if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String("alias/none")}); awsapi.ErrorCode(err) != "NotFoundException" {
		t.Errorf("EnableKey takes no alias: %v", err)
	}
	if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(k.ID)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Errorf("Decrypt after EnableKey: %v", err)
	}
	srv.SetEnabled(k.ARN, false)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	disabled("Decrypt after SetEnabled", err)
	born := srv.CreateKey(KeyOptions{Disabled: true})
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(born.ID), Plaintext: dataKey})
	if awsapi.ErrorCode(err) != "DisabledException" {
		t.Errorf("a key created disabled: %v", err)
	}
}

func TestAccessDenied(t *testing.T) {
	t.Parallel()
	ops := awsapi.Credentials{AccessKeyID: "AKIDOPSACCOUNT", SecretAccessKey: "ops-secret"}
	ci := awsapi.Credentials{AccessKeyID: "AKIDCIPIPELINE", SecretAccessKey: "ci-secret"}
	srv := NewServer(awsapi.WithPrincipal(ops, "210987654321"), awsapi.WithPrincipal(ci, DefaultAccount))
	defer srv.Close()
	shared := srv.CreateKey(KeyOptions{Users: []string{ops.AccessKeyID}, Aliases: []string{"alias/shared"}})
	own := srv.CreateKey(KeyOptions{})

	me := client(srv, DefaultRegion, srv.Credentials(), 1)
	opsc := client(srv, DefaultRegion, ops, 1)
	cic := client(srv, DefaultRegion, ci, 1)

	// Another account's principal: by ARN only, and only where named.
	enc, err := opsc.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(shared.ARN), Plaintext: dataKey})
	if err != nil {
		t.Fatalf("ops on the shared key: %v", err)
	}
	if _, err := opsc.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatalf("ops decrypting with the shared key: %v", err)
	}
	denied := func(name string, err error) {
		t.Helper()
		if got := awsapi.ErrorCode(err); got != "AccessDeniedException" {
			t.Errorf("%s: %s (%v)", name, got, err)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: message leaks a secret: %v", name, err)
		}
	}
	_, err = opsc.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(own.ARN), Plaintext: dataKey})
	denied("ops on an unshared key", err)
	if _, err := opsc.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(shared.ID), Plaintext: dataKey}); awsapi.ErrorCode(err) != "NotFoundException" {
		t.Errorf("a bare key id is the caller's account's: %v", err)
	}
	// The key's own account: every principal when no users are named, else only those.
	mine, err := me.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(own.ID), Plaintext: dataKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cic.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: mine.CiphertextBlob}); err != nil {
		t.Errorf("ci on its account's key: %v", err)
	}
	_, err = opsc.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: mine.CiphertextBlob})
	denied("ops decrypting another account's blob", err)
	_, err = me.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	denied("a principal the shared key does not name", err)
	_, err = me.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/shared")})
	denied("DescribeKey", err)
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	creds := awsapi.Credentials{AccessKeyID: "ASIAKMSTEST", SecretAccessKey: "kms-s3cret", SessionToken: "tok"}
	srv := NewServer(awsapi.WithCredentials(creds), awsapi.WithAccount("111122223333"))
	defer srv.Close()
	k := srv.CreateKey(KeyOptions{})
	if !strings.Contains(k.ARN, ":111122223333:key/") {
		t.Errorf("key ARN %s is not in the configured account", k.ARN)
	}
	if _, err := client(srv, DefaultRegion, creds, 1).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(k.ID)}); err != nil {
		t.Fatalf("valid credentials: %v", err)
	}
	for name, tc := range map[string]struct {
		creds awsapi.Credentials
		code  string
	}{
		"wrong secret":  {awsapi.Credentials{AccessKeyID: "ASIAKMSTEST", SecretAccessKey: "guess", SessionToken: "tok"}, "InvalidSignatureException"},
		"wrong key":     {awsapi.Credentials{AccessKeyID: "ASIAOTHER", SecretAccessKey: "kms-s3cret", SessionToken: "tok"}, "UnrecognizedClientException"},
		"wrong session": {awsapi.Credentials{AccessKeyID: "ASIAKMSTEST", SecretAccessKey: "kms-s3cret", SessionToken: "other"}, "UnrecognizedClientException"},
	} {
		_, err := client(srv, DefaultRegion, tc.creds, 1).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(k.ID)})
		if got := awsapi.ErrorCode(err); got != tc.code || status(err) != 403 {
			t.Errorf("%s: %s %d, want %s 403", name, got, status(err), tc.code)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error leaks the secret: %v", name, err)
		}
	}
	if st := srv.Stats(OpDescribeKey); st.OK != 1 || st.Rejected != 3 {
		t.Errorf("stats = %+v", st)
	}
}

func TestStrictInput(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	k := srv.CreateKey(KeyOptions{})
	for body, want := range map[string]string{
		`{"KeyId":"` + k.ID + `","Plaintext":"aGk="}`:                             "",
		`{"KeyId":"` + k.ID + `","Plaintext":"aGk=","EncryptionContext":{}}`:      "",
		`{"KeyId":"` + k.ID + `","Plaintext":"aGk=","Context":{}}`:                "SerializationException",
		`{"keyId":"` + k.ID + `","Plaintext":"aGk="}`:                             "SerializationException",
		`{"KeyId":"` + k.ID + `","Plaintext":"not base64"}`:                       "SerializationException",
		`{"KeyId":"` + k.ID + `","Plaintext":"aGk=","EncryptionContext":{"a":1}}`: "SerializationException",
		`{"KeyId":"` + k.ID + `","Plaintext":"aGk=","DryRun":"yes"}`:              "SerializationException",
	} {
		req, err := awsapi.NewSignedRequest(ctx, srv.URL, srv.Credentials(), "kms", DefaultRegion, TargetPrefix+"."+OpEncrypt, body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Type string `json:"__type"`
		}
		_ = json.Unmarshal(data, &e)
		if e.Type != want || (want == "") != (resp.StatusCode == 200) {
			t.Errorf("%s: %d %s", body, resp.StatusCode, data)
		}
	}
	for _, op := range []string{"ScheduleKeyDeletion", "Sign", "ReEncrypt"} {
		req, _ := awsapi.NewSignedRequest(ctx, srv.URL, srv.Credentials(), "kms", DefaultRegion, TargetPrefix+"."+op, `{}`)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
			t.Errorf("%s: %d %s", op, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
		}
	}
	// The signature is for "kms" only.
	req, _ := awsapi.NewSignedRequest(ctx, srv.URL, srv.Credentials(), "secretsmanager", DefaultRegion, TargetPrefix+"."+OpDescribeKey, `{"KeyId":"`+k.ID+`"}`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-ErrorType") != "InvalidSignatureException" {
		t.Errorf("signed for secretsmanager: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}

func TestThrottlingIsRetriedBySDK(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	k := srv.CreateKey(KeyOptions{})
	enc, err := client(srv, DefaultRegion, srv.Credentials(), 1).Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(k.ARN), Plaintext: dataKey})
	if err != nil {
		t.Fatal(err)
	}

	srv.FailNext(OpDecrypt, 2, awsapi.Throttling(0))
	srv.FailNext(OpDecrypt, 1, InternalError())
	dec, err := client(srv, DefaultRegion, srv.Credentials(), 4).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || !bytes.Equal(dec.Plaintext, dataKey) {
		t.Fatalf("Decrypt with retries: %v", err)
	}
	if st := srv.Stats(OpDecrypt); st.Requests != 4 || st.Faults != 3 || st.OK != 1 {
		t.Errorf("stats = %+v", st)
	}
	var codes []string
	for _, c := range srv.Calls() {
		if c.Op == OpDecrypt {
			codes = append(codes, c.ErrorCode)
		}
	}
	if fmt.Sprint(codes) != "[ThrottlingException ThrottlingException KMSInternalException ]" {
		t.Errorf("codes = %v", codes)
	}

	// Without retries the throttling reaches the caller; past the retry budget too.
	srv.FailNext(OpDecrypt, 1, awsapi.Throttling(time.Second))
	_, err = client(srv, DefaultRegion, srv.Credentials(), 1).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if awsapi.ErrorCode(err) != "ThrottlingException" || status(err) != 400 {
		t.Errorf("no retries: %v", err)
	}
	srv.FailNext(awsapi.AnyOperation, 3, awsapi.Throttling(0))
	_, err = client(srv, DefaultRegion, srv.Credentials(), 3).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if awsapi.ErrorCode(err) != "ThrottlingException" {
		t.Errorf("retries exhausted: %v", err)
	}
	if _, err := client(srv, DefaultRegion, srv.Credentials(), 1).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Errorf("after the faults: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	c := client(srv, DefaultRegion, srv.Credentials(), 1)
	shared := srv.CreateKey(KeyOptions{})
	srv.FailNext(OpEncrypt, 5, awsapi.Throttling(0))
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	throttled := make(chan struct{}, 200)
	for g := range 8 {
		wg.Go(func() {
			own, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
			if err != nil {
				errs <- err
				return
			}
			for i := range 10 {
				keyID := shared.ARN
				if i%2 == 0 {
					keyID = *own.KeyMetadata.Arn
				}
				ec := map[string]string{"g": fmt.Sprint(g), "i": fmt.Sprint(i)}
				plain := []byte(fmt.Sprintf("secret %d/%d", g, i))
				enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: plain, EncryptionContext: ec})
				if awsapi.ErrorCode(err) == "ThrottlingException" {
					throttled <- struct{}{}
					continue
				}
				if err != nil {
					errs <- err
					continue
				}
				dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
				if err != nil || !bytes.Equal(dec.Plaintext, plain) {
					errs <- fmt.Errorf("round trip %d/%d: %v", g, i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(throttled) != 5 || srv.Requests(OpEncrypt) != 80 || srv.Stats(OpDecrypt).OK != 75 || srv.Stats(OpCreateKey).OK != 8 {
		t.Errorf("throttled %d, Encrypt %d, Decrypt %+v", len(throttled), srv.Requests(OpEncrypt), srv.Stats(OpDecrypt))
	}
}

// TestEnv points the SDK's default configuration at the server through
// Env, as a program under test (or SOPS) finds it; it sets the process
// environment, so it does not run in parallel.
func TestEnv(t *testing.T) {
	srv := NewServer()
	defer srv.Close()
	k := srv.CreateKey(KeyOptions{Aliases: []string{"alias/env"}})
	srv.Setenv(t, DefaultRegion)
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := kms.NewFromConfig(cfg).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/env")})
	if err != nil || *out.KeyMetadata.Arn != k.ARN {
		t.Fatalf("through Env: %v", err)
	}
}
