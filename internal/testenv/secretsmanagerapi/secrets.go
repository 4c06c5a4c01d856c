package secretsmanagerapi

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv/awsapi"
)

var namePattern = regexp.MustCompile(`^[a-zA-Z0-9/_+=.@-]{1,512}$`)

type secretKey struct{ account, region, name string }

type secret struct {
	key              secretKey
	arn              string
	description      string
	kmsKeyID         string
	tags             []tag
	created, changed time.Time
	accessed         time.Time // zero if never read
	versions         map[string]*version
	order            []string // version ids, oldest first
	reads            int      // successful GetSecretValue calls
}

type version struct {
	id      string
	str     *string
	bin     []byte
	stages  []string
	created time.Time
}

func (v *version) sameValue(str *string, bin []byte) bool {
	if (v.str == nil) != (str == nil) || (v.bin == nil) != (bin == nil) {
		return false
	}
	return (str == nil || *v.str == *str) && bytes.Equal(v.bin, bin)
}

// arnSuffix returns the six random characters Secrets Manager appends to a
// secret's name in its ARN.
func arnSuffix() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 6)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[n.Int64()]
	}
	return string(b)
}

// newSecret stores a secret without versions. The caller holds s.mu.
func (s *Server) newSecret(k secretKey, description, kmsKeyID string, tags []tag) *secret {
	now := time.Now()
	sec := &secret{
		key:         k,
		arn:         awsapi.ARN("secretsmanager", k.region, k.account, "secret:"+k.name+"-"+arnSuffix()),
		description: description,
		kmsKeyID:    kmsKeyID,
		tags:        tags,
		created:     now,
		changed:     now,
		versions:    map[string]*version{},
	}
	s.secrets[k] = sec
	return sec
}

// addVersion adds a version with stages (AWSCURRENT if none) and moves
// each stage to it, as Secrets Manager does: a label lives on one version
// at a time, and the version that loses AWSCURRENT gets AWSPREVIOUS.
func (sec *secret) addVersion(id string, str *string, bin []byte, stages []string) *version {
	if len(stages) == 0 {
		stages = []string{StageCurrent}
	}
	v := &version{id: id, str: str, bin: bin, created: time.Now()}
	var previous *version
	for _, stage := range stages {
		if old := sec.withStage(stage); old != nil {
			old.stages = slices.DeleteFunc(old.stages, func(x string) bool { return x == stage })
			if stage == StageCurrent {
				previous = old
			}
		}
		if !slices.Contains(v.stages, stage) {
			v.stages = append(v.stages, stage)
		}
	}
	if previous != nil {
		if old := sec.withStage(StagePrevious); old != nil {
			old.stages = slices.DeleteFunc(old.stages, func(x string) bool { return x == StagePrevious })
		}
		previous.stages = append(previous.stages, StagePrevious)
	}
	sec.versions[id] = v
	sec.order = append(sec.order, id)
	sec.changed = v.created
	return v
}

func (sec *secret) withStage(stage string) *version {
	for _, id := range sec.order {
		if v := sec.versions[id]; slices.Contains(v.stages, stage) {
			return v
		}
	}
	return nil
}

// lookup finds the secret a SecretId names: its name, its ARN, or its ARN
// without the random suffix (a partial ARN), in the caller's account and
// the request's region. The caller holds s.mu.
func (s *Server) lookup(account, region, id string) *secret {
	a, ok := awsapi.ParseARN(id)
	if !ok {
		return s.secrets[secretKey{account, region, id}]
	}
	name, ok := strings.CutPrefix(a.Resource, "secret:")
	if !ok || a.Service != "secretsmanager" || a.Partition != awsapi.Partition(region) || a.Region != region || a.Account != account {
		return nil
	}
	if sec := s.secrets[secretKey{account, region, name}]; sec != nil {
		return sec // a partial ARN
	}
	if i := len(name) - 7; i > 0 && name[i] == '-' {
		if sec := s.secrets[secretKey{account, region, name[:i]}]; sec != nil && sec.arn == id {
			return sec
		}
	}
	return nil
}

// SecretSpec describes a secret created with Server.CreateSecret.
type SecretSpec struct {
	// Region and Account place the secret; empty means DefaultRegion and
	// the default principal's account.
	Region  string
	Account string
	// Name is the secret's name, e.g. "prod/myapp/db".
	Name        string
	Description string
	// String or Binary is the value of the first version (AWSCURRENT). A
	// secret with neither has no version yet.
	String *string
	Binary []byte
}

// Secret identifies a secret and a version of it.
type Secret struct {
	Name      string
	ARN       string // arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 random characters>
	VersionID string // empty for a secret without a value
}

// CreateSecret creates a secret. It panics on a malformed name, region or
// account, on a name that exists, or on both a String and a Binary.
func (s *Server) CreateSecret(spec SecretSpec) Secret {
	k := s.key(spec.Region, spec.Account, spec.Name)
	if spec.String != nil && spec.Binary != nil {
		panic("secretsmanagerapi: a secret value is a String or a Binary, not both")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secrets[k] != nil {
		panic(fmt.Sprintf("secretsmanagerapi: secret %q exists", spec.Name))
	}
	sec := s.newSecret(k, spec.Description, "", nil)
	out := Secret{Name: k.name, ARN: sec.arn}
	if spec.String != nil || spec.Binary != nil {
		out.VersionID = sec.addVersion(awsapi.NewUUID(), spec.String, spec.Binary, nil).id
	}
	return out
}

// PutSecretString stores value as a new version of a secret (named by name
// in the default account and region, or by ARN), AWSCURRENT, as a rotation
// does; the version it replaces becomes AWSPREVIOUS. It returns the new
// version id, and panics if there is no such secret.
func (s *Server) PutSecretString(secretID, value string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustFind(secretID).addVersion(awsapi.NewUUID(), &value, nil, nil).id
}

// Reads returns how many GetSecretValue calls read a secret (named by name
// in the default account and region, or by ARN) successfully. It panics if
// there is no such secret.
func (s *Server) Reads(secretID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustFind(secretID).reads
}

// DeleteSecret deletes a secret at once, as ForceDeleteWithoutRecovery
// does, and reports whether it existed.
func (s *Server) DeleteSecret(secretID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.find(secretID)
	if sec != nil {
		delete(s.secrets, sec.key)
	}
	return sec != nil
}

// find looks a secret up by ARN (any account and region) or by name in the
// default account and region. The caller holds s.mu.
func (s *Server) find(secretID string) *secret {
	if a, ok := awsapi.ParseARN(secretID); ok {
		return s.lookup(a.Account, a.Region, secretID)
	}
	return s.lookup(s.Account(), DefaultRegion, secretID)
}

func (s *Server) mustFind(secretID string) *secret {
	sec := s.find(secretID)
	if sec == nil {
		panic(fmt.Sprintf("secretsmanagerapi: no secret %q", secretID))
	}
	return sec
}

func (s *Server) key(region, account, name string) secretKey {
	if region == "" {
		region = DefaultRegion
	}
	if account == "" {
		account = s.Account()
	}
	if !awsapi.ValidRegion(region) || !awsapi.ValidAccount(account) || !namePattern.MatchString(name) {
		panic(fmt.Sprintf("secretsmanagerapi: invalid region %q, account %q or name %q", region, account, name))
	}
	return secretKey{account, region, name}
}
