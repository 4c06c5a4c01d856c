package kmsapi

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv/awsapi"
)

var (
	keyIDPattern     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	aliasNamePattern = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]+$`)
)

// key is a symmetric encryption KMS key.
type key struct {
	id, arn         string
	region, account string
	description     string
	created         time.Time
	enabled         bool
	material        []byte // the AES-256 key
	materialID      string // what KMS calls the key material id: 64 hex digits
	users           []string
	tags            []tag
}

type aliasKey struct{ region, account, name string }

// newKey creates and stores a key. The caller holds s.mu.
func (s *Server) newKey(region, account, description string) *key {
	id := awsapi.NewUUID()
	k := &key{
		id:          id,
		arn:         awsapi.ARN("kms", region, account, "key/"+id),
		region:      region,
		account:     account,
		description: description,
		created:     time.Now(),
		enabled:     true,
		material:    make([]byte, 32),
		materialID:  awsapi.RandomHex(32),
	}
	_, _ = rand.Read(k.material)
	s.keys[id] = k
	return k
}

func validAliasName(name string) error {
	switch {
	case len(name) > 256 || !aliasNamePattern.MatchString(name):
		return fmt.Errorf("alias name %q must begin with alias/ followed by letters, digits, /, _ or - (256 characters at most)", name)
	case strings.HasPrefix(name, "alias/aws/"):
		return fmt.Errorf("alias name %q: the prefix alias/aws/ is reserved for AWS managed keys", name)
	}
	return nil
}

// addAlias points a new alias at k. The caller holds s.mu.
func (s *Server) addAlias(region, account, name string, k *key) *awsapi.Error {
	if err := validAliasName(name); err != nil {
		return awsapi.BadRequest("InvalidAliasNameException", "%v", err)
	}
	ak := aliasKey{region, account, name}
	if _, ok := s.aliases[ak]; ok {
		return errorf("AlreadyExistsException", "An alias with the name %s already exists", awsapi.ARN("kms", region, account, name))
	}
	s.aliases[ak] = k.id
	return nil
}

// keyByIDOrARN finds a key by id or key ARN, in any region or account. The
// caller holds s.mu.
func (s *Server) keyByIDOrARN(ref string) *key {
	if k := s.keys[ref]; k != nil {
		return k
	}
	if a, ok := awsapi.ParseARN(ref); ok {
		if id, ok := strings.CutPrefix(a.Resource, "key/"); ok {
			if k := s.keys[id]; k != nil && k.arn == ref {
				return k
			}
		}
	}
	return nil
}

// Ways a request may name a key.
const (
	allowAlias = true  // key id, key ARN, alias name or alias ARN
	keyOnly    = false // key id or key ARN
)

// resolve finds the key a request's KeyId names, as KMS does: a key id or
// alias name is the caller's account's, in the request's region; an ARN
// must name the request's region. The caller holds s.mu.
func (s *Server) resolve(req awsapi.Request, ref *string, aliases bool) (*key, *awsapi.Error) {
	if err := awsapi.CheckRequired("keyId", ref, 1, 2048); err != nil {
		return nil, err
	}
	id := *ref
	region, account := req.Region, req.Account
	alias := ""
	if a, ok := awsapi.ParseARN(id); ok {
		if a.Service != "kms" || a.Partition != awsapi.Partition(a.Region) || !awsapi.ValidAccount(a.Account) {
			return nil, errorf("NotFoundException", "Invalid arn %s", id)
		}
		if a.Region != req.Region {
			return nil, errorf("NotFoundException", "Invalid arn %s: the request was sent to %s", a.Region, req.Region)
		}
		account = a.Account
		switch kind, rest, _ := strings.Cut(a.Resource, "/"); kind {
		case "key":
			id = rest
		case "alias":
			alias = a.Resource
		default:
			return nil, errorf("NotFoundException", "Invalid arn %s", *ref)
		}
	} else if strings.HasPrefix(id, "alias/") {
		alias = id
	}
	if alias != "" {
		if !aliases {
			return nil, errorf("NotFoundException", "Invalid keyId %s: give a key id or key ARN, not an alias", *ref)
		}
		kid, ok := s.aliases[aliasKey{region, account, alias}]
		if !ok {
			return nil, errorf("NotFoundException", "Alias %s is not found.", awsapi.ARN("kms", region, account, alias))
		}
		return s.keys[kid], nil
	}
	if !keyIDPattern.MatchString(id) {
		return nil, errorf("NotFoundException", "Invalid keyId %s", *ref)
	}
	k := s.keys[id]
	if k == nil || k.region != region || k.account != account {
		return nil, errorf("NotFoundException", "Key '%s' does not exist", awsapi.ARN("kms", region, account, "key/"+id))
	}
	return k, nil
}

// authorize checks that the caller may call its operation on k: a key's
// own account's principals may, unless the key lists its users; another
// account's only if the key lists them.
func authorize(req awsapi.Request, k *key) *awsapi.Error {
	if (len(k.users) == 0 && req.Account == k.account) || slices.Contains(k.users, req.AccessKeyID) {
		return nil
	}
	return errorf("AccessDeniedException", "User: %s of account %s is not authorized to perform: kms:%s on resource: %s because no resource-based policy allows the kms:%s action",
		req.AccessKeyID, req.Account, req.Op, k.arn, req.Op)
}

// usable checks that k is enabled and may be used by the caller.
func usable(req awsapi.Request, k *key) *awsapi.Error {
	if err := authorize(req, k); err != nil {
		return err
	}
	if !k.enabled {
		return errorf("DisabledException", "%s is disabled.", k.arn)
	}
	return nil
}

// authorized resolves ref (an alias too when aliases) to a key the caller
// may call its operation on (authorize). Called with s.mu held.
func (s *Server) authorized(req awsapi.Request, ref *string, aliases bool) (*key, *awsapi.Error) {
	k, err := s.resolve(req, ref, aliases)
	if err != nil {
		return nil, err
	}
	if err := authorize(req, k); err != nil {
		return nil, err
	}
	return k, nil
}

// usableKey resolves keyID to a key the caller may use now; a dry run ends
// there, with DryRunOperationException.
func (s *Server) usableKey(req awsapi.Request, keyID *string, dryRun *bool) (*key, *awsapi.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.resolve(req, keyID, allowAlias)
	if err != nil {
		return nil, err
	}
	if err := usable(req, k); err != nil {
		return nil, err
	}
	if dryRun != nil && *dryRun {
		return nil, errDryRun()
	}
	return k, nil
}

// errDryRun is the answer to a dry run that would have succeeded.
func errDryRun() *awsapi.Error {
	return errorf("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
}

// The ciphertext blob: a version byte, the key ARN (length-prefixed), a
// nonce and the AES-256-GCM sealed plaintext. The header and the
// encryption context are the additional authenticated data, so a blob
// opens only under its own key with its own context.
const (
	blobVersion = 0x01
	nonceSize   = 12
)

func (k *key) seal(plaintext []byte, context map[string]string) []byte {
	blob := make([]byte, 0, 2+len(k.arn)+nonceSize+len(plaintext)+16)
	blob = append(blob, blobVersion, byte(len(k.arn)))
	blob = append(blob, k.arn...)
	header := blob[:len(blob):len(blob)]
	nonce := make([]byte, nonceSize)
	_, _ = rand.Read(nonce)
	blob = append(blob, nonce...)
	return k.aead().Seal(blob, nonce, plaintext, aad(header, context))
}

func (k *key) open(blob []byte, context map[string]string) ([]byte, error) {
	header, nonce, sealed, err := splitBlob(blob)
	if err != nil {
		return nil, err
	}
	return k.aead().Open(nil, nonce, sealed, aad(header, context))
}

func (k *key) aead() cipher.AEAD {
	block, err := aes.NewCipher(k.material)
	if err != nil {
		panic(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return gcm
}

var errMalformedBlob = errors.New("malformed ciphertext blob")

// splitBlob returns a blob's header (version and key ARN), nonce and sealed
// part.
func splitBlob(blob []byte) (header, nonce, sealed []byte, err error) {
	if len(blob) < 2 || blob[0] != blobVersion {
		return nil, nil, nil, errMalformedBlob
	}
	end := 2 + int(blob[1])
	if len(blob) < end+nonceSize+16 {
		return nil, nil, nil, errMalformedBlob
	}
	return blob[:end], blob[end : end+nonceSize], blob[end+nonceSize:], nil
}

// blobKeyARN returns the ARN of the key a blob says it was sealed under.
func blobKeyARN(blob []byte) (string, bool) {
	header, _, _, err := splitBlob(blob)
	if err != nil {
		return "", false
	}
	return string(header[2:]), true
}

// aad is the additional authenticated data of a blob: its header and the
// encryption context, its pairs sorted and length-prefixed (an empty or
// absent context is the same context).
func aad(header []byte, context map[string]string) []byte {
	var b bytes.Buffer
	b.Write(header)
	keys := make([]string, 0, len(context))
	for k := range context {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, s := range []string{k, context[k]} {
			_ = binary.Write(&b, binary.BigEndian, uint32(len(s)))
			b.WriteString(s)
		}
	}
	return b.Bytes()
}

// errorf returns a KMS error with the status its service model declares.
func errorf(code, format string, args ...any) *awsapi.Error {
	status := http.StatusBadRequest
	switch code {
	case "NotFoundException":
		status = http.StatusNotFound
	case "DisabledException", "AlreadyExistsException", "KMSInvalidStateException":
		status = http.StatusConflict
	case "DryRunOperationException":
		status = http.StatusPreconditionFailed
	}
	return awsapi.Errorf(status, code, format, args...)
}
