package secretsmanagerapi

import (
	"slices"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv/awsapi"
)

const (
	maxSecretValue = 65536
	maxStages      = 20
)

type tag struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

type replicaRegion struct {
	Region   *string `json:"Region"`
	KmsKeyID *string `json:"KmsKeyId"`
}

func invalidParameter(format string, args ...any) *awsapi.Error {
	return awsapi.BadRequest("InvalidParameterException", format, args...)
}

func invalidRequest(format string, args ...any) *awsapi.Error {
	return awsapi.BadRequest("InvalidRequestException", format, args...)
}

func notFound(format string, args ...any) *awsapi.Error {
	return awsapi.BadRequest("ResourceNotFoundException", format, args...)
}

func unsupported(what string) *awsapi.Error {
	return invalidRequest("secretsmanagerapi does not emulate %s", what)
}

// token returns a request's ClientRequestToken, the id of the version it
// creates: one of 32 to 64 characters, or a new UUID if none is given.
func token(t *string) (string, *awsapi.Error) {
	if t == nil {
		return awsapi.NewUUID(), nil
	}
	return *t, awsapi.CheckLength("clientRequestToken", t, 32, 64)
}

// checkValue checks a secret value: SecretString or SecretBinary, not both,
// of at most 64 KiB; with neither, want says whether that is an error.
func checkValue(str *string, bin []byte, want bool) *awsapi.Error {
	switch {
	case str != nil && bin != nil:
		return invalidParameter("You can't specify both a binary secret value and a string secret value in the same secret.")
	case str == nil && bin == nil && want:
		return invalidParameter("You must provide either SecretString or SecretBinary.")
	case str != nil && len(*str) > maxSecretValue, len(bin) > maxSecretValue:
		return awsapi.ValidationError("Value at 'secretString' or 'secretBinary' failed to satisfy constraint: Member must have length less than or equal to %d", maxSecretValue)
	}
	return nil
}

// resolve finds the secret a request's SecretId names. The caller holds
// s.mu.
func (s *Server) resolve(req awsapi.Request, id *string) (*secret, *awsapi.Error) {
	if err := awsapi.CheckRequired("secretId", id, 1, 2048); err != nil {
		return nil, err
	}
	sec := s.lookup(req.Account, req.Region, *id)
	if sec == nil {
		return nil, notFound("Secrets Manager can't find the specified secret.")
	}
	return sec, nil
}

// --- CreateSecret ---

type createSecretInput struct {
	Name                        *string         `json:"Name"`
	ClientRequestToken          *string         `json:"ClientRequestToken"`
	Description                 *string         `json:"Description"`
	KmsKeyID                    *string         `json:"KmsKeyId"`
	SecretBinary                []byte          `json:"SecretBinary"`
	SecretString                *string         `json:"SecretString"`
	Tags                        []tag           `json:"Tags"`
	AddReplicaRegions           []replicaRegion `json:"AddReplicaRegions"`
	ForceOverwriteReplicaSecret *bool           `json:"ForceOverwriteReplicaSecret"`
	Type                        *string         `json:"Type"`
	CrossAccountPrimaryARN      *string         `json:"CrossAccountPrimaryARN"`
}

type createSecretOutput struct {
	ARN       string  `json:"ARN"`
	Name      string  `json:"Name"`
	VersionID *string `json:"VersionId,omitempty"`
}

func (s *Server) createSecret(req awsapi.Request) (any, *awsapi.Error) {
	var in createSecretInput
	if err := awsapi.Decode(req.Body, &in); err != nil {
		return nil, err
	}
	id, err := token(in.ClientRequestToken)
	if err := awsapi.FirstError(err,
		awsapi.CheckRequired("name", in.Name, 1, 512),
		awsapi.CheckLength("description", in.Description, 0, 2048),
		awsapi.CheckLength("kmsKeyId", in.KmsKeyID, 0, 2048),
		checkValue(in.SecretString, in.SecretBinary, false),
	); err != nil {
		return nil, err
	}
	if !namePattern.MatchString(*in.Name) {
		return nil, invalidParameter("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	switch {
	case in.AddReplicaRegions != nil || in.ForceOverwriteReplicaSecret != nil:
		return nil, unsupported("replica regions")
	case in.Type != nil || in.CrossAccountPrimaryARN != nil:
		return nil, unsupported("managed external or cross-account secrets")
	}
	if len(in.Tags) > 50 {
		return nil, awsapi.ValidationError("Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	for _, t := range in.Tags {
		if err := awsapi.CheckRequired("tags.member.key", t.Key, 1, 128); err != nil {
			return nil, err
		}
		if err := awsapi.CheckRequired("tags.member.value", t.Value, 0, 256); err != nil {
			return nil, err
		}
	}
	hasValue := in.SecretString != nil || in.SecretBinary != nil

	s.mu.Lock()
	defer s.mu.Unlock()
	k := secretKey{req.Account, req.Region, *in.Name}
	if sec := s.secrets[k]; sec != nil {
		// A retry of the request that created it (same token and value) is
		// answered again; anything else is a conflict.
		if v := sec.versions[id]; v != nil && hasValue && v.sameValue(in.SecretString, in.SecretBinary) {
			return createSecretOutput{ARN: sec.arn, Name: k.name, VersionID: &v.id}, nil
		}
		return nil, awsapi.BadRequest("ResourceExistsException", "The operation failed because the secret %s already exists.", k.name)
	}
	description, kmsKeyID := "", ""
	if in.Description != nil {
		description = *in.Description
	}
	if in.KmsKeyID != nil {
		kmsKeyID = *in.KmsKeyID
	}
	sec := s.newSecret(k, description, kmsKeyID, in.Tags)
	out := createSecretOutput{ARN: sec.arn, Name: k.name}
	if hasValue {
		v := sec.addVersion(id, in.SecretString, in.SecretBinary, nil)
		out.VersionID = &v.id
	}
	return out, nil
}

// --- PutSecretValue ---

type putSecretValueInput struct {
	SecretID           *string  `json:"SecretId"`
	ClientRequestToken *string  `json:"ClientRequestToken"`
	SecretBinary       []byte   `json:"SecretBinary"`
	SecretString       *string  `json:"SecretString"`
	VersionStages      []string `json:"VersionStages"`
	RotationToken      *string  `json:"RotationToken"`
}

type versionOutput struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionID     string   `json:"VersionId"`
	VersionStages []string `json:"VersionStages"`
}

func (s *Server) putSecretValue(req awsapi.Request) (any, *awsapi.Error) {
	var in putSecretValueInput
	if err := awsapi.Decode(req.Body, &in); err != nil {
		return nil, err
	}
	id, err := token(in.ClientRequestToken)
	if err := awsapi.FirstError(err, checkValue(in.SecretString, in.SecretBinary, true)); err != nil {
		return nil, err
	}
	if in.VersionStages != nil && (len(in.VersionStages) < 1 || len(in.VersionStages) > maxStages) {
		return nil, awsapi.ValidationError("Value at 'versionStages' failed to satisfy constraint: Member must have length between 1 and %d", maxStages)
	}
	for _, stage := range in.VersionStages {
		if err := awsapi.CheckLength("versionStages.member", &stage, 1, 256); err != nil {
			return nil, err
		}
	}
	if in.RotationToken != nil {
		return nil, unsupported("rotation functions (RotationToken)")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.resolve(req, in.SecretID)
	if err != nil {
		return nil, err
	}
	v := sec.versions[id]
	switch {
	case v != nil && !v.sameValue(in.SecretString, in.SecretBinary):
		return nil, awsapi.BadRequest("ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
	case v == nil:
		v = sec.addVersion(id, in.SecretString, in.SecretBinary, in.VersionStages)
	}
	// A retry with the same token and value changes nothing.
	return versionOutput{ARN: sec.arn, Name: sec.key.name, VersionID: v.id, VersionStages: slices.Clone(v.stages)}, nil
}

// --- GetSecretValue ---

type getSecretValueInput struct {
	SecretID     *string `json:"SecretId"`
	VersionID    *string `json:"VersionId"`
	VersionStage *string `json:"VersionStage"`
}

type getSecretValueOutput struct {
	ARN           string              `json:"ARN"`
	Name          string              `json:"Name"`
	VersionID     string              `json:"VersionId"`
	SecretBinary  []byte              `json:"SecretBinary,omitempty"`
	SecretString  *string             `json:"SecretString,omitempty"`
	VersionStages []string            `json:"VersionStages"`
	CreatedDate   awsapi.EpochSeconds `json:"CreatedDate"`
}

func (s *Server) getSecretValue(req awsapi.Request) (any, *awsapi.Error) {
	var in getSecretValueInput
	if err := awsapi.Decode(req.Body, &in); err != nil {
		return nil, err
	}
	if err := awsapi.CheckLength("versionId", in.VersionID, 32, 64); err != nil {
		return nil, err
	}
	if err := awsapi.CheckLength("versionStage", in.VersionStage, 1, 256); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.resolve(req, in.SecretID)
	if err != nil {
		return nil, err
	}
	var v *version
	switch {
	case in.VersionID != nil:
		if v = sec.versions[*in.VersionID]; v == nil {
			return nil, notFound("Secrets Manager can't find the specified secret value for VersionId: %s", *in.VersionID)
		}
		if in.VersionStage != nil && !slices.Contains(v.stages, *in.VersionStage) {
			return nil, notFound("You provided a VersionStage that is not associated to the provided VersionId.")
		}
	default:
		stage := StageCurrent
		if in.VersionStage != nil {
			stage = *in.VersionStage
		}
		if v = sec.withStage(stage); v == nil {
			return nil, notFound("Secrets Manager can't find the specified secret value for staging label: %s", stage)
		}
	}
	sec.reads++
	sec.accessed = time.Now()
	return getSecretValueOutput{
		ARN:           sec.arn,
		Name:          sec.key.name,
		VersionID:     v.id,
		SecretBinary:  v.bin,
		SecretString:  v.str,
		VersionStages: slices.Clone(v.stages),
		CreatedDate:   awsapi.EpochSeconds(v.created),
	}, nil
}

// --- DescribeSecret ---

type describeSecretInput struct {
	SecretID *string `json:"SecretId"`
}

type describeSecretOutput struct {
	ARN                string               `json:"ARN"`
	Name               string               `json:"Name"`
	Description        string               `json:"Description,omitempty"`
	KmsKeyID           string               `json:"KmsKeyId,omitempty"`
	RotationEnabled    bool                 `json:"RotationEnabled"`
	LastChangedDate    awsapi.EpochSeconds  `json:"LastChangedDate"`
	LastAccessedDate   *awsapi.EpochSeconds `json:"LastAccessedDate,omitempty"`
	Tags               []tag                `json:"Tags,omitempty"`
	VersionIdsToStages map[string][]string  `json:"VersionIdsToStages,omitempty"`
	CreatedDate        awsapi.EpochSeconds  `json:"CreatedDate"`
}

func (s *Server) describeSecret(req awsapi.Request) (any, *awsapi.Error) {
	var in describeSecretInput
	if err := awsapi.Decode(req.Body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.resolve(req, in.SecretID)
	if err != nil {
		return nil, err
	}
	out := describeSecretOutput{
		ARN:             sec.arn,
		Name:            sec.key.name,
		Description:     sec.description,
		KmsKeyID:        sec.kmsKeyID,
		LastChangedDate: awsapi.EpochSeconds(sec.changed),
		Tags:            sec.tags,
		CreatedDate:     awsapi.EpochSeconds(sec.created),
	}
	if !sec.accessed.IsZero() {
		// Secrets Manager keeps the date only, not the time.
		day := awsapi.EpochSeconds(sec.accessed.UTC().Truncate(24 * time.Hour))
		out.LastAccessedDate = &day
	}
	// Versions without a label are deprecated: not listed.
	for _, id := range sec.order {
		if v := sec.versions[id]; len(v.stages) > 0 {
			if out.VersionIdsToStages == nil {
				out.VersionIdsToStages = map[string][]string{}
			}
			out.VersionIdsToStages[id] = slices.Clone(v.stages)
		}
	}
	return out, nil
}
