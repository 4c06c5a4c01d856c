package ecrapi

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv/awsapi"
)

const (
	defaultPageSize = 100
	maxPageSize     = 1000
	maxImageIDs     = 100
	maxTagLength    = 300
	tokenLifetime   = 12 * time.Hour
)

type imageIdentifier struct {
	ImageDigest *string `json:"imageDigest,omitempty"`
	ImageTag    *string `json:"imageTag,omitempty"`
}

func (id imageIdentifier) String() string {
	q := func(p *string) string {
		if p == nil {
			return "null"
		}
		return "'" + *p + "'"
	}
	return fmt.Sprintf("{imageDigest:%s, imageTag:%s}", q(id.ImageDigest), q(id.ImageTag))
}

type listFilter struct {
	TagStatus   *string `json:"tagStatus"`
	ImageStatus *string `json:"imageStatus"`
}

// cursor is the state behind an issued nextToken.
type cursor struct {
	op     string
	repo   repoKey
	filter string
	offset int
}

// resolve validates registryId and repositoryName and returns the
// repository. The caller holds s.mu.
func (s *Server) resolve(req awsapi.Request, registryID, name *string) (repoKey, *repository, *awsapi.Error) {
	account := req.Account
	if registryID != nil {
		if !awsapi.ValidAccount(*registryID) {
			return repoKey{}, nil, invalidParameter("Invalid parameter at 'registryId' failed to satisfy constraint: 'must satisfy regular expression '[0-9]{12}''")
		}
		account = *registryID
	}
	if name == nil {
		return repoKey{}, nil, invalidParameter("1 validation error detected: Value null at 'repositoryName' failed to satisfy constraint: Member must not be null")
	}
	if !validRepositoryName(*name) {
		return repoKey{}, nil, invalidParameter("Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '%s' and have length between 2 and 256'", repoPattern.String())
	}
	k := repoKey{account, req.Region, *name}
	r := s.repos[k]
	if r == nil {
		return k, nil, awsapi.BadRequest("RepositoryNotFoundException",
			"The repository with name '%s' does not exist in the registry with id '%s'", k.name, k.account)
	}
	return k, r, nil
}

// filterKey validates a filter and returns its canonical form.
func filterKey(f *listFilter) (tagStatus string, key string, err *awsapi.Error) {
	tagStatus, imageStatus := "ANY", "ACTIVE"
	if f != nil && f.TagStatus != nil {
		tagStatus = *f.TagStatus
	}
	if f != nil && f.ImageStatus != nil {
		imageStatus = *f.ImageStatus
	}
	if !slices.Contains([]string{"TAGGED", "UNTAGGED", "ANY"}, tagStatus) {
		return "", "", invalidParameter("Invalid parameter at 'filter.tagStatus' failed to satisfy constraint: 'Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]'")
	}
	if !slices.Contains([]string{"ACTIVE", "ARCHIVED", "ACTIVATING", "ANY"}, imageStatus) {
		return "", "", invalidParameter("Invalid parameter at 'filter.imageStatus' failed to satisfy constraint: 'Member must satisfy enum value set: [ACTIVE, ARCHIVED, ACTIVATING, ANY]'")
	}
	if imageStatus == "ARCHIVED" || imageStatus == "ACTIVATING" {
		// Every emulated image is active.
		tagStatus = "NONE"
	}
	return tagStatus, tagStatus + "|" + imageStatus, nil
}

func (im *storedImage) matches(tagStatus string) bool {
	switch tagStatus {
	case "TAGGED":
		return len(im.tags) > 0
	case "UNTAGGED":
		return len(im.tags) == 0
	case "ANY":
		return true
	}
	return false
}

// page validates maxResults and nextToken and returns the window
// [start, end) of total items, issuing a new token if more remain. The
// caller holds s.mu.
func (s *Server) page(op string, k repoKey, filter string, nextToken *string, maxResults *int, total int) (start, end int, next *string, err *awsapi.Error) {
	limit := defaultPageSize
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > maxPageSize {
			return 0, 0, nil, invalidParameter("Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value between 1 and %d'", maxPageSize)
		}
		limit = *maxResults
	}
	if nextToken != nil {
		c, ok := s.cursors[*nextToken]
		if !ok || c.op != op || c.repo != k || c.filter != filter {
			return 0, 0, nil, invalidParameter("Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid NextToken'")
		}
		start = min(c.offset, total)
	}
	end = min(start+limit, total)
	if end < total {
		b := make([]byte, 48)
		_, _ = rand.Read(b)
		tok := base64.StdEncoding.EncodeToString(b)
		s.cursors[tok] = cursor{op: op, repo: k, filter: filter, offset: end}
		next = &tok
	}
	return start, end, next, nil
}

func validateImageIDs(ids []imageIdentifier) *awsapi.Error {
	if len(ids) < 1 || len(ids) > maxImageIDs {
		return invalidParameter("Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length between 1 and %d'", maxImageIDs)
	}
	for _, id := range ids {
		if id.ImageTag != nil && (len(*id.ImageTag) < 1 || len(*id.ImageTag) > maxTagLength) {
			return invalidParameter("Invalid parameter at 'imageTag' failed to satisfy constraint: 'Member must have length between 1 and %d'", maxTagLength)
		}
	}
	return nil
}

// lookup finds the image id names: by digest, by tag, or by both (which
// must agree). The caller holds s.mu.
func (r *repository) lookup(id imageIdentifier) (*storedImage, string) {
	switch {
	case id.ImageDigest == nil && id.ImageTag == nil:
		return nil, "MissingDigestAndTag"
	case id.ImageDigest != nil && !digestPattern.MatchString(*id.ImageDigest):
		return nil, "InvalidImageDigest"
	case id.ImageDigest != nil:
		im := r.byDigest[*id.ImageDigest]
		if im == nil {
			return nil, "ImageNotFound"
		}
		if id.ImageTag != nil && !slices.Contains(im.tags, *id.ImageTag) {
			return nil, "ImageTagDoesNotMatchDigest"
		}
		return im, ""
	default:
		if im := r.byTag[*id.ImageTag]; im != nil {
			return im, ""
		}
		return nil, "ImageNotFound"
	}
}

// --- DescribeImages ---

// imageQuery is the input DescribeImages and ListImages share: the
// repository, the filter and the page.
type imageQuery struct {
	RegistryID     *string     `json:"registryId"`
	RepositoryName *string     `json:"repositoryName"`
	NextToken      *string     `json:"nextToken"`
	MaxResults     *int        `json:"maxResults"`
	Filter         *listFilter `json:"filter"`
}

// query resolves q's repository and returns it with its images that pass
// q's filter and the filter's key for paging. Called with s.mu held.
func (s *Server) query(req awsapi.Request, q imageQuery) (repoKey, *repository, []*storedImage, string, *awsapi.Error) {
	k, r, err := s.resolve(req, q.RegistryID, q.RepositoryName)
	if err != nil {
		return repoKey{}, nil, nil, "", err
	}
	tagStatus, filter, err := filterKey(q.Filter)
	if err != nil {
		return repoKey{}, nil, nil, "", err
	}
	var matched []*storedImage
	for _, im := range r.images {
		if im.matches(tagStatus) {
			matched = append(matched, im)
		}
	}
	return k, r, matched, filter, nil
}

type describeImagesInput struct {
	imageQuery
	ImageIDs []imageIdentifier `json:"imageIds"`
}

type imageDetail struct {
	RegistryID             string              `json:"registryId"`
	RepositoryName         string              `json:"repositoryName"`
	ImageDigest            string              `json:"imageDigest"`
	ImageTags              []string            `json:"imageTags,omitempty"`
	ImageSizeInBytes       int64               `json:"imageSizeInBytes"`
	ImagePushedAt          awsapi.EpochSeconds `json:"imagePushedAt"`
	ImageManifestMediaType string              `json:"imageManifestMediaType"`
	ArtifactMediaType      string              `json:"artifactMediaType"`
	ImageStatus            string              `json:"imageStatus"`
}

type describeImagesOutput struct {
	ImageDetails []imageDetail `json:"imageDetails"`
	NextToken    *string       `json:"nextToken,omitempty"`
}

func detail(k repoKey, im *storedImage) imageDetail {
	return imageDetail{
		RegistryID:             k.account,
		RepositoryName:         k.name,
		ImageDigest:            im.digest,
		ImageTags:              slices.Clone(im.tags),
		ImageSizeInBytes:       im.size,
		ImagePushedAt:          awsapi.EpochSeconds(im.pushedAt),
		ImageManifestMediaType: im.mediaType,
		ArtifactMediaType:      MediaTypeOCIConfig,
		ImageStatus:            "ACTIVE",
	}
}

func (s *Server) describeImages(req awsapi.Request) (any, *awsapi.Error) {
	var in describeImagesInput
	if err := awsapi.Decode(req.Body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, r, matched, filter, err := s.query(req, in.imageQuery)
	if err != nil {
		return nil, err
	}
	out := describeImagesOutput{ImageDetails: []imageDetail{}}

	if in.ImageIDs != nil {
		if in.MaxResults != nil || in.NextToken != nil {
			return nil, invalidParameter("maxResults and nextToken cannot be used when imageIds are specified")
		}
		if err := validateImageIDs(in.ImageIDs); err != nil {
			return nil, err
		}
		seen := map[*storedImage]bool{}
		for _, id := range in.ImageIDs {
			im, failure := r.lookup(id)
			switch failure {
			case "":
			case "MissingDigestAndTag":
				return nil, invalidParameter("Invalid parameter at 'imageIds': an image identifier needs an imageDigest or an imageTag")
			case "InvalidImageDigest":
				return nil, invalidParameter("Invalid parameter at 'imageDigest' failed to satisfy constraint: 'must be a valid digest'")
			default:
				return nil, awsapi.BadRequest("ImageNotFoundException",
					"The image with imageId %s does not exist within the repository with name '%s' in the registry with id '%s'", id, k.name, k.account)
			}
			if !seen[im] {
				seen[im] = true
				out.ImageDetails = append(out.ImageDetails, detail(k, im))
			}
		}
		return out, nil
	}

	start, end, next, err := s.page(OpDescribeImages, k, filter, in.NextToken, in.MaxResults, len(matched))
	if err != nil {
		return nil, err
	}
	for _, im := range matched[start:end] {
		out.ImageDetails = append(out.ImageDetails, detail(k, im))
	}
	out.NextToken = next
	return out, nil
}

// --- ListImages ---

type listImagesOutput struct {
	ImageIDs  []imageIdentifier `json:"imageIds"`
	NextToken *string           `json:"nextToken,omitempty"`
}

func (s *Server) listImages(req awsapi.Request) (any, *awsapi.Error) {
	var in imageQuery
	if err := awsapi.Decode(req.Body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _, matched, filter, err := s.query(req, in)
	if err != nil {
		return nil, err
	}
	// One entry per tag; an untagged image is one entry with its digest only.
	var ids []imageIdentifier
	for _, im := range matched {
		if len(im.tags) == 0 {
			ids = append(ids, imageIdentifier{ImageDigest: &im.digest})
			continue
		}
		for _, t := range im.tags {
			ids = append(ids, imageIdentifier{ImageDigest: &im.digest, ImageTag: &t})
		}
	}
	start, end, next, err := s.page(OpListImages, k, filter, in.NextToken, in.MaxResults, len(ids))
	if err != nil {
		return nil, err
	}
	page := slices.Clone(ids[start:end])
	if page == nil {
		page = []imageIdentifier{}
	}
	return listImagesOutput{ImageIDs: page, NextToken: next}, nil
}

// --- BatchGetImage ---

type batchGetImageInput struct {
	RegistryID         *string           `json:"registryId"`
	RepositoryName     *string           `json:"repositoryName"`
	ImageIDs           []imageIdentifier `json:"imageIds"`
	AcceptedMediaTypes []string          `json:"acceptedMediaTypes"`
}

type batchImage struct {
	RegistryID             string          `json:"registryId"`
	RepositoryName         string          `json:"repositoryName"`
	ImageID                imageIdentifier `json:"imageId"`
	ImageManifest          string          `json:"imageManifest"`
	ImageManifestMediaType string          `json:"imageManifestMediaType"`
}

type imageFailure struct {
	ImageID       imageIdentifier `json:"imageId"`
	FailureCode   string          `json:"failureCode"`
	FailureReason string          `json:"failureReason"`
}

type batchGetImageOutput struct {
	Images   []batchImage   `json:"images"`
	Failures []imageFailure `json:"failures"`
}

var failureReasons = map[string]string{
	"MissingDigestAndTag":        "Invalid request parameters: both tag and digest cannot be null",
	"InvalidImageDigest":         "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'",
	"ImageNotFound":              "Requested image not found",
	"ImageTagDoesNotMatchDigest": "Invalid request parameters: image tag does not match the digest",
}

func (s *Server) batchGetImage(req awsapi.Request) (any, *awsapi.Error) {
	var in batchGetImageInput
	if err := awsapi.Decode(req.Body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, r, err := s.resolve(req, in.RegistryID, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if err := validateImageIDs(in.ImageIDs); err != nil {
		return nil, err
	}
	if in.AcceptedMediaTypes != nil && (len(in.AcceptedMediaTypes) < 1 || len(in.AcceptedMediaTypes) > 100) {
		return nil, invalidParameter("Invalid parameter at 'acceptedMediaTypes' failed to satisfy constraint: 'Member must have length between 1 and 100'")
	}
	out := batchGetImageOutput{Images: []batchImage{}, Failures: []imageFailure{}}
	for _, id := range in.ImageIDs {
		im, failure := r.lookup(id)
		if failure != "" {
			out.Failures = append(out.Failures, imageFailure{ImageID: id, FailureCode: failure, FailureReason: failureReasons[failure]})
			continue
		}
		rid := imageIdentifier{ImageDigest: &im.digest, ImageTag: id.ImageTag}
		out.Images = append(out.Images, batchImage{
			RegistryID:             k.account,
			RepositoryName:         k.name,
			ImageID:                rid,
			ImageManifest:          im.manifest,
			ImageManifestMediaType: im.mediaType,
		})
	}
	return out, nil
}

// --- GetAuthorizationToken ---

type getAuthorizationTokenInput struct {
	RegistryIDs []string `json:"registryIds"`
}

type authorizationData struct {
	AuthorizationToken string              `json:"authorizationToken"`
	ExpiresAt          awsapi.EpochSeconds `json:"expiresAt"`
	ProxyEndpoint      string              `json:"proxyEndpoint"`
}

type getAuthorizationTokenOutput struct {
	AuthorizationData []authorizationData `json:"authorizationData"`
}

func (s *Server) getAuthorizationToken(req awsapi.Request) (any, *awsapi.Error) {
	var in getAuthorizationTokenInput
	if err := awsapi.Decode(req.Body, &in); err != nil {
		return nil, err
	}
	accounts := []string{req.Account}
	if in.RegistryIDs != nil {
		if len(in.RegistryIDs) < 1 || len(in.RegistryIDs) > 10 {
			return nil, invalidParameter("Invalid parameter at 'registryIds' failed to satisfy constraint: 'Member must have length between 1 and 10'")
		}
		for _, a := range in.RegistryIDs {
			if !awsapi.ValidAccount(a) {
				return nil, invalidParameter("Invalid parameter at 'registryIds' failed to satisfy constraint: 'must satisfy regular expression '[0-9]{12}''")
			}
		}
		accounts = in.RegistryIDs
	}
	expires := s.now().Add(tokenLifetime).Truncate(time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := getAuthorizationTokenOutput{}
	for _, a := range accounts {
		password := awsapi.RandomHex(64)
		s.authTokens[password] = expires
		out.AuthorizationData = append(out.AuthorizationData, authorizationData{
			AuthorizationToken: base64.StdEncoding.EncodeToString([]byte("AWS:" + password)),
			ExpiresAt:          awsapi.EpochSeconds(expires),
			ProxyEndpoint:      "https://" + Host(a, req.Region),
		})
	}
	return out, nil
}

// ValidRegistryCredentials reports whether username and password are a
// registry login the server handed out with GetAuthorizationToken (the
// decoded token is "AWS:<password>") and not expired: for a fake OCI
// registry that accepts ECR logins.
func (s *Server) ValidRegistryCredentials(username, password string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.authTokens[password]
	return username == "AWS" && ok && s.now().Before(exp)
}
