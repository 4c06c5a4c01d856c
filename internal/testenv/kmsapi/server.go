package kmsapi

import (
	"fmt"
	"slices"
	"sync"

	"github.com/ferrygitops/ferry/internal/testenv/awsapi"
)

// Defaults of a Server.
const (
	DefaultAccount         = "123456789012"
	DefaultRegion          = "us-east-1"
	DefaultAccessKeyID     = "AKIAFERRYKMSEMULATOR"
	DefaultSecretAccessKey = "ferry-kms-emulator-secret-access-key"
)

// TargetPrefix is the X-Amz-Target prefix of the KMS API.
const TargetPrefix = "TrentService"

// Operations the emulator implements.
const (
	OpCreateKey       = "CreateKey"
	OpCreateAlias     = "CreateAlias"
	OpDescribeKey     = "DescribeKey"
	OpEnableKey       = "EnableKey"
	OpDisableKey      = "DisableKey"
	OpEncrypt         = "Encrypt"
	OpDecrypt         = "Decrypt"
	OpGenerateDataKey = "GenerateDataKey"
)

// InternalError is a 500 KMSInternalException, which the SDKs retry: a
// fault for Server.FailNext beside awsapi.Throttling and awsapi.Delay.
func InternalError() awsapi.Fault { return awsapi.ServerError("KMSInternalException") }

// Server is a running KMS API emulator. Its methods are safe for concurrent
// use. Close it when done.
//
// The embedded awsapi.Server is the endpoint (URL, e.g.
// AWS_ENDPOINT_URL_KMS, see Env) and holds fault injection (FailNext,
// ClearFaults, with awsapi.Throttling, InternalError, awsapi.Delay) and the
// request log (Stats, Requests, TotalRequests, Calls, ResetStats).
type Server struct {
	*awsapi.Server

	mu      sync.Mutex
	keys    map[string]*key // by key id
	aliases map[aliasKey]string
}

// NewServer starts an emulator with no keys. opts set who may call it
// (awsapi.WithCredentials, WithAccount, WithPrincipal: see KeyOptions.Users
// for keys another account may use).
func NewServer(opts ...awsapi.Option) *Server {
	s := &Server{keys: map[string]*key{}, aliases: map[aliasKey]string{}}
	cfg := awsapi.Config{
		TargetPrefix: TargetPrefix,
		SigningName:  "kms",
		EndpointEnv:  "AWS_ENDPOINT_URL_KMS",
		Operations: map[string]awsapi.Operation{
			OpCreateKey:       s.createKey,
			OpCreateAlias:     s.createAlias,
			OpDescribeKey:     s.describeKey,
			OpEnableKey:       s.enableKey,
			OpDisableKey:      s.disableKey,
			OpEncrypt:         s.encrypt,
			OpDecrypt:         s.decrypt,
			OpGenerateDataKey: s.generateDataKey,
		},
		Principals: []awsapi.Principal{{
			Credentials: awsapi.Credentials{AccessKeyID: DefaultAccessKeyID, SecretAccessKey: DefaultSecretAccessKey},
			Account:     DefaultAccount,
		}},
	}
	s.Server = awsapi.NewServer(cfg, opts...)
	return s
}

// KeyOptions describe a key created with Server.CreateKey.
type KeyOptions struct {
	// Region and Account place the key; empty means DefaultRegion and the
	// default principal's account.
	Region  string
	Account string
	// Description is the key's description.
	Description string
	// Aliases are alias names ("alias/name") to point at the key.
	Aliases []string
	// Users are the access key ids that may use the key. Empty means every
	// principal of the key's account; a principal of another account may
	// only use a key that names it here.
	Users []string
	// Disabled creates the key disabled.
	Disabled bool
}

// Key identifies a key.
type Key struct {
	ID  string // a UUID
	ARN string // arn:aws:kms:<region>:<account>:key/<id>
}

// CreateKey creates a symmetric encryption key. It panics on a malformed
// region, account or alias name, or an alias that exists.
func (s *Server) CreateKey(o KeyOptions) Key {
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.Account == "" {
		o.Account = s.Account()
	}
	if !awsapi.ValidRegion(o.Region) || !awsapi.ValidAccount(o.Account) {
		panic(fmt.Sprintf("kmsapi: invalid region %q or account %q", o.Region, o.Account))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.newKey(o.Region, o.Account, o.Description)
	k.users = slices.Clone(o.Users)
	k.enabled = !o.Disabled
	for _, name := range o.Aliases {
		if err := s.addAlias(o.Region, o.Account, name, k); err != nil {
			panic("kmsapi: " + err.Error())
		}
	}
	return Key{ID: k.id, ARN: k.arn}
}

// SetEnabled enables or disables a key, named by id or ARN. It panics if
// there is no such key.
func (s *Server) SetEnabled(keyID string, enabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keyByIDOrARN(keyID)
	if k == nil {
		panic(fmt.Sprintf("kmsapi: no key %q", keyID))
	}
	k.enabled = enabled
}

// AliasARN returns the ARN of an alias name ("alias/name") in a region and
// account (empty: the defaults), as KMS forms it.
func (s *Server) AliasARN(region, account, name string) string {
	if region == "" {
		region = DefaultRegion
	}
	if account == "" {
		account = s.Account()
	}
	return awsapi.ARN("kms", region, account, name)
}
